#!/usr/bin/env bash
# Create (or check) the separate virtual environment with Google Magenta's ddsp 3.7.0 on
# TensorFlow 2.15.1 (CPU) that benchmarks/synth.py compares timbral against.
#
#     benchmarks/magenta_env.sh [VENV_DIR]     # default: benchmarks/.magenta-venv
#
# Installs the exact pins of benchmarks/magenta-requirements.txt with --no-deps: ddsp
# declares tensorflow<=2.11 (no Python 3.11 wheels), crepe (whose build downloads weights)
# and other requirements that cannot be met; the pin list is a set that works on Python
# 3.11 (TF 2.15.1 is the last release whose tf.keras is Keras 2). crepe and google.colab are
# not installed: benchmarks/magenta_synth.py registers stand-ins before importing ddsp.
#
# Idempotent: when the venv exists, was installed from the same pin list (a hash stamp in the
# venv) and imports ddsp, it exits without installing anything. PYTHON picks the interpreter
# (default python3.11, else python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.magenta-venv}"
pins="$here/magenta-requirements.txt"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
stamp="$venv/.pins.sha256"
want="$(sha256sum "$pins" | cut -d' ' -f1)"

check() {
    "$venv/bin/python" "$here/magenta_synth.py" --check >/dev/null 2>&1
}

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && check; then
    echo "Magenta venv up to date: $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "Creating $venv with $python ($("$python" --version 2>&1))"
    "$python" -m venv "$venv"
fi
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$pins"
if ! check; then
    echo "ddsp was installed but does not import; run:" >&2
    echo "  $venv/bin/python $here/magenta_synth.py --check" >&2
    exit 1
fi
echo "$want" > "$stamp"
echo "Magenta venv ready: $venv ($(du -sh "$venv" | cut -f1))"
