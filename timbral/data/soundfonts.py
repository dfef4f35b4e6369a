"""Finding installed SoundFonts (.sf2/.sf3) by path or name.

Debian's packages (``fluid-soundfont-gm``, ``musescore-general-soundfont``,
``timgm6mb-soundfont``; see requirements/soundfont-apt.txt) install into
:data:`SOUNDFONT_DIRS`; ``$TIMBRAL_SOUNDFONT_PATH`` adds folders searched first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List

#: Where SoundFonts are looked for (after the folders in $TIMBRAL_SOUNDFONT_PATH).
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/usr/share/soundfonts",
                  "/usr/local/share/soundfonts", "~/.local/share/soundfonts")
#: Preferred default SoundFonts, best first.
PREFERRED_SOUNDFONTS = ("FluidR3_GM", "MuseScore_General_Full", "MuseScore_General",
                        "TimGM6mb")
SOUNDFONT_HINT = ("install one: apt-get install fluid-soundfont-gm (see "
                  "requirements/soundfont-apt.txt), or put .sf2/.sf3 files in a folder named "
                  "by $TIMBRAL_SOUNDFONT_PATH")


def _search_dirs(search_path) -> List[Path]:
    if search_path is not None:
        dirs = [search_path] if isinstance(search_path, (str, os.PathLike)) else list(search_path)
    else:
        env = os.environ.get("TIMBRAL_SOUNDFONT_PATH", "")
        dirs = [d for d in env.split(os.pathsep) if d] + list(SOUNDFONT_DIRS)
    return [Path(d).expanduser() for d in dirs]


def find_soundfonts(search_path=None) -> Dict[str, Path]:
    """Installed SoundFonts (.sf2/.sf3) by name (the file's stem), preferred first.

    Looks in ``$TIMBRAL_SOUNDFONT_PATH`` (folders separated by ``os.pathsep``),
    then :data:`SOUNDFONT_DIRS`; or only in ``search_path`` (a folder or a list
    of folders) when given. Symlinks (e.g. Debian's ``default-GM.sf2``) are
    resolved and listed once under the real file's name.

    Raises FileNotFoundError (with what to install) when none is found.
    """
    dirs = _search_dirs(search_path)
    found: Dict[str, Path] = {}
    seen = set()
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".sf2", ".sf3") or not path.is_file():
                continue
            real = path.resolve()
            if real in seen or real.stat().st_size == 0:
                continue
            seen.add(real)
            found.setdefault(real.stem, real)
    if not found:
        where = ", ".join(str(d) for d in dirs)
        raise FileNotFoundError(f"no SoundFont (.sf2/.sf3) found in {where}; {SOUNDFONT_HINT}")
    order = {name: i for i, name in enumerate(PREFERRED_SOUNDFONTS)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def resolve_soundfont(soundfont=None, search_path=None) -> Path:
    """A SoundFont file from a path, a name from :func:`find_soundfonts`, or None.

    None picks the preferred installed SoundFont (FluidR3_GM, then MuseScore
    General, then TimGM6mb, then any). A name matches case-insensitively, by
    stem ("FluidR3_GM", "FluidR3_GM.sf2") or prefix ("fluidr3", "musescore",
    "timgm"; the preferred one when several share it).
    Raises FileNotFoundError (one line, with what to install), and ValueError
    for a file that is not a SoundFont.
    """
    return _checked(_find(soundfont, search_path))


def _find(soundfont, search_path) -> Path:
    """The file :func:`resolve_soundfont` means, not yet checked."""
    key = None
    if soundfont is not None:
        text = os.fspath(soundfont)
        path = Path(text).expanduser()
        if path.is_file():
            return path.resolve()
        if os.sep in text or isinstance(soundfont, Path):
            raise FileNotFoundError(f"SoundFont {path}: no such file; {SOUNDFONT_HINT}")
        key = (path.stem if path.suffix.lower() in (".sf2", ".sf3") else text).lower()
    fonts = find_soundfonts(search_path)
    if key is None:
        return next(iter(fonts.values()))
    exact = [p for name, p in fonts.items() if name.lower() == key]
    prefix = [p for name, p in fonts.items() if name.lower().startswith(key)]
    if exact or prefix:
        return (exact or prefix)[0]  # a prefix shared by several: the preferred one
    raise FileNotFoundError(f"SoundFont {soundfont!r}: not installed (have {list(fonts)}); "
                            f"{SOUNDFONT_HINT}")


def _checked(path: Path) -> Path:
    """``path`` if it starts like a SoundFont (RIFF, form 'sfbk'); else a one-line
    ValueError (FluidSynth would try its DLS loader, which prints to stderr)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise ValueError(f"SoundFont {path}: cannot be read ({exc.strerror})") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise ValueError(f"SoundFont {path}: not a SoundFont (an .sf2/.sf3 file starts with "
                         f"a RIFF 'sfbk' header); give an .sf2 or .sf3 file")
    return path


__all__ = ["PREFERRED_SOUNDFONTS", "SOUNDFONT_DIRS", "SOUNDFONT_HINT", "find_soundfonts",
           "resolve_soundfont"]
