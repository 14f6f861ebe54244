#!/usr/bin/env python3
"""Reshape the source tree: a composition root (app/), domain stores (stores/), the codec (iso/).

Re-runnable: run it from a clean checkout (`python3 scripts/reshape-tree.py`). It

  1. moves what MOVES lists with `git mv` (an entry whose source is gone is skipped, so a second
     run, or a run on a tree where someone added or removed files, does what is still to do);
  2. moves the ProcessedEvent type out of switch/process/render.ts into switch/events.ts, a
     types-only module the API may import (skipped when already done);
  3. rewrites every relative specifier of every .ts/.mts/.mjs/.js/.cjs file (static `from '…'`,
     side-effect `import '…'`, `import('…')`, `import.meta.resolve('…')`,
     `new URL('…', import.meta.url)`) by resolving it against the importing file's old location
     and the target's old location, mapping both through MOVES and computing the path again;
  4. rewrites repository-relative paths written as text anywhere (package.json scripts, .ci/run,
     docs, README, comments, `join(projectRoot(), 'switch', 'lua')`-style segment lists) and adds
     the new top-level folders to the tsconfig include lists;
  5. resolves every relative specifier again on the result, prints what it cannot resolve and
     exits 1 if there is any; prints the layering rules the result breaks (exit 2 with --strict).

Options: --dry-run (print the plan, change nothing), --strict, --check (only step 5).
Python 3.9+, standard library only.
"""
from __future__ import annotations

import os
import posixpath
import re
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

# ---------------------------------------------------------------------------------------------
# The one mapping table. A folder ends with '/' and moves with everything under it; a file entry
# also maps the same stem with the other script extensions (switch/app.ts ↔ switch/app.js).
# Order does not matter: the longest matching entry wins.
MOVES: List[Tuple[str, str]] = [
    # Composition root: configuration, start-up, shutdown, wiring (the only importer of api/ and switch/).
    ('switch/app.ts', 'app/start.ts'),
    ('switch/main.ts', 'app/main.ts'),
    ('switch/config.ts', 'app/config.ts'),
    ('switch/maintenance.ts', 'app/maintenance.ts'),
    ('switch/metrics.ts', 'app/metrics.ts'),
    # Domain stores: typed methods over Redis, their Lua scripts and the connection they share.
    ('switch/cards.ts', 'stores/cards.ts'),
    ('switch/customers.ts', 'stores/customers.ts'),
    ('switch/records.ts', 'stores/records.ts'),
    ('switch/programs.ts', 'stores/programs.ts'),
    ('switch/secrets.ts', 'stores/secrets.ts'),
    ('switch/redis.ts', 'stores/redis.ts'),
    ('switch/lua.ts', 'stores/lua.ts'),
    ('switch/lua/', 'stores/lua/'),
    # The codec, its dialect tables and the wire-level domain tables read by switch, api,
    # adapters, simulators and bench alike.
    ('switch/iso/', 'iso/'),
    ('switch/currency.ts', 'iso/currency.ts'),
    ('switch/reasons.ts', 'iso/reasons.ts'),
    ('switch/process/processing.ts', 'iso/processing.ts'),
    ('switch/process/wire.ts', 'iso/wire.ts'),
    # The process logger (pino, PAN masking configured once): below every layer that logs.
    ('switch/log.ts', 'log/index.ts'),
]

# Where the ProcessedEvent type goes (step 2), in the layout before the move (it does not move).
EVENTS_MODULE = 'switch/events.ts'
EVENT_SOURCE = 'switch/process/render.ts'
EVENT_REEXPORTERS = ('switch/process/render.ts', 'switch/process/batch.ts')

CODE_EXT = ('.ts', '.mts', '.cts', '.mjs', '.cjs', '.js', '.tsx')
TEXT_EXT = CODE_EXT + ('.json', '.md', '.sh', '.yml', '.yaml', '.html', '.css', '.lua', '.txt', '.toml')
SKIP_DIRS = {'node_modules', 'dist', 'var', '.git', '.tap', 'coverage'}
# Text that records the past is left as written (benchmark reports name the files of their day).
SKIP_TEXT_PREFIXES = ('bench/results/', 'package-lock.json', 'scripts/reshape-tree.py')
# Extensions one module may be named by (a .ts source is imported as .js under NodeNext).
SCRIPT_EXTS = ('.d.ts', '.js.map', '.ts', '.js', '.mts', '.mjs', '.cts', '.cjs', '.tsx')

# Relative specifiers in code. Group 'q' is the quote, group 's' the specifier.
REL = r"(?P<q>['\"])(?P<s>\.\.?(?:/[^'\"\n]*)?)(?P=q)"
SPEC_PATTERNS = [
    re.compile(r"\bfrom\s*" + REL),                                   # import … from / export … from
    re.compile(r"(?<![\w.$])import\s*" + REL),                        # import './side-effect.js'
    re.compile(r"(?<![\w.$])import\s*\(\s*" + REL),                   # import('./x.js')
    re.compile(r"\bimport\.meta\.resolve\s*\(\s*" + REL),
    re.compile(r"\bnew\s+URL\s*\(\s*" + REL + r"\s*,\s*import\.meta\.url"),
]
TEMPLATE_IMPORT = re.compile(r"(?<![\w.$])import\s*\(\s*`")


def log(msg: str) -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# Path mapping


def split_ext(p: str) -> Tuple[str, str]:
    for e in SCRIPT_EXTS:
        if p.endswith(e):
            return p[: -len(e)], e
    return p, ''


def map_path(p: str) -> str:
    """A repository-relative path (file, specifier target or folder) in the old layout → the new one."""
    best: Optional[Tuple[int, str]] = None
    for old, new in MOVES:
        if old.endswith('/'):
            base = old[:-1]
            if p == base:
                cand = new[:-1]
            elif p.startswith(old):
                cand = new + p[len(old):]
            else:
                continue
        else:
            old_stem, old_ext = split_ext(old)
            new_stem, _ = split_ext(new)
            stem, ext = split_ext(p)
            if p == old:
                cand = new
            elif stem == old_stem and ext in SCRIPT_EXTS and old_ext in SCRIPT_EXTS:
                cand = new_stem + ext
            else:
                continue
        if best is None or len(old) > best[0]:
            best = (len(old), cand)
    return p if best is None else best[1]


def rel_spec(target: str, from_dir: str, trailing_slash: bool) -> str:
    r = posixpath.relpath(target, from_dir or '.')
    if not r.startswith('.'):
        r = './' + r
    if trailing_slash and not r.endswith('/'):
        r += '/'
    return r


def unmap_path(p: str) -> str:
    """A path in the new layout → where it was before the move (the inverse of map_path)."""
    best: Optional[Tuple[int, str]] = None
    for old, new in MOVES:
        if new.endswith('/'):
            if p == new[:-1]:
                cand = old[:-1]
            elif p.startswith(new):
                cand = old + p[len(new):]
            else:
                continue
        else:
            stem, ext = split_ext(p)
            if p == new:
                cand = old
            elif stem == split_ext(new)[0] and ext in SCRIPT_EXTS:
                cand = split_ext(old)[0] + ext
            else:
                continue
        if best is None or len(new) > best[0]:
            best = (len(new), cand)
    return p if best is None else best[1]


def unmap_file(p: str) -> str:
    """Where a file in the new layout would have been before the move: its own entry, else its
    folder's (a file added to app/ after the move was written like its neighbours in switch/)."""
    back = unmap_path(p)
    if back != p:
        return back
    d, name = posixpath.split(p)
    for old, new in sorted(MOVES, key=lambda e: -len(e[1])):
        if not old.endswith('/') and posixpath.dirname(new) == d:
            return posixpath.join(posixpath.dirname(old), name)
    return p


def exists_in(files: set, target: str) -> bool:
    """`target` (a specifier's path) names one of `files` (or a folder holding some)."""
    if target in files or target in ('.', ''):
        return True
    stem, ext = split_ext(target)
    alternatives = {'.js': ('.ts', '.tsx', '.d.ts'), '.mjs': ('.mts',), '.cjs': ('.cts',), '': ('.ts', '.js', '/index.ts', '/index.js')}
    if any(stem + a in files for a in alternatives.get(ext, ())):
        return True
    return any(f.startswith(target.rstrip('/') + '/') for f in files)


def hold_specifiers(text: str) -> Tuple[str, List[str]]:
    """Relative specifiers set aside while text paths are rewritten: they are resolved, not read."""
    held: List[str] = []

    def hold(m: 're.Match[str]') -> str:
        held.append(m.group(0))
        return f'\0{len(held) - 1}\0'

    for pat in SPEC_PATTERNS:
        text = pat.sub(hold, text)
    return text, held


def release_specifiers(text: str, held: List[str]) -> str:
    return re.sub(r'\0(\d+)\0', lambda m: held[int(m.group(1))], text) if held else text


def rewrite_specifiers(text: str, old_file: str, new_file: str, future: Optional[set] = None) -> Tuple[str, List[str]]:
    """Every relative specifier of `text` (a file at old_file, going to new_file) recomputed.

    `future` is the set of files after the move. A file already at its new place (moved by an
    earlier run) whose specifier is still written for its old place (code merged after that run)
    is resolved against the old place instead, when only that one lands on a file.
    """
    changes: List[str] = []
    old_dir, new_dir = posixpath.dirname(old_file), posixpath.dirname(new_file)
    before = unmap_file(old_file) if old_file == new_file else old_file
    before_dir = posixpath.dirname(before)

    def fix(m: 're.Match[str]') -> str:
        spec = m.group('s')
        target_old = posixpath.normpath(posixpath.join(old_dir, spec))
        if target_old.startswith('..'):
            return m.group(0)
        target_new = map_path(target_old)
        if future is not None and before != old_file and not exists_in(future, target_new):
            stale = map_path(posixpath.normpath(posixpath.join(before_dir, spec)))
            if exists_in(future, stale):
                target_new = stale
        if target_new == target_old and new_dir == old_dir:
            return m.group(0)
        new_spec = rel_spec(target_new, new_dir, spec.endswith('/'))
        if new_spec == spec:
            return m.group(0)
        changes.append(f'{spec} → {new_spec}')
        start, end = m.span('s')
        whole_start = m.start(0)
        g = m.group(0)
        return g[: start - whole_start] + new_spec + g[end - whole_start:]

    for pat in SPEC_PATTERNS:
        text = pat.sub(fix, text)
    return text, changes


# ---------------------------------------------------------------------------------------------
# Paths written as text (docs, package.json, comments, runtime joins)


def token_patterns() -> List[Tuple['re.Pattern[str]', str]]:
    pats = []
    for old, new in sorted(MOVES, key=lambda e: -len(e[0])):
        if old.endswith('/'):
            # A folder: followed by '/', the end, or anything but a name character (a full stop
            # ending a sentence counts as the end).
            pat = re.compile(r'(?<![\w.\-])' + re.escape(old[:-1]) + r'(?=/|$|[^\w.\-]|\.(?!\w))', re.M)
            pats.append((pat, new[:-1]))
        else:
            stem, _ = split_ext(old)
            new_stem, _ = split_ext(new)
            exts = '|'.join(re.escape(e) for e in SCRIPT_EXTS)
            pat = re.compile(r'(?<![\w.\-])' + re.escape(stem) + r'(?=(?:' + exts + r')(?![\w]))')
            pats.append((pat, new_stem))
    return pats


TOKENS = token_patterns()


def rewrite_tokens(text: str) -> Tuple[str, int]:
    """Repository-relative paths in text, one pass per entry with no overlap between entries."""
    # One combined pass, so that a replacement is never matched again by a shorter entry.
    combined = re.compile('|'.join(f'(?P<t{i}>{p.pattern})' for i, (p, _) in enumerate(TOKENS)), re.M)
    count = 0

    def fix(m: 're.Match[str]') -> str:
        nonlocal count
        for i, (_, new) in enumerate(TOKENS):
            if m.group(f't{i}') is not None:
                count += 1
                return new
        return m.group(0)

    out: List[str] = []
    for line in text.splitlines(keepends=True):
        new_line = combined.sub(fix, line)
        if new_line != line:
            new_line = keep_columns(line, new_line)
        out.append(new_line)
    return ''.join(out), count


def keep_columns(old: str, new: str) -> str:
    """A path in a column (two or more spaces after it) keeps the next column where it was."""
    old_cols = [m.end() for m in re.finditer(r'\S {2,}(?=\S)', old)]
    if not old_cols:
        return new
    parts = re.split(r'(?<=\S)( {2,})(?=\S)', new)
    if len(parts) != 2 * len(old_cols) + 1:
        return new
    rebuilt = parts[0]
    for k, col in enumerate(old_cols):
        gap = max(2, col - len(rebuilt))
        rebuilt += ' ' * gap + parts[2 * k + 2]
    return rebuilt


SEGMENTS = re.compile(r"""(?:'[\w.\-]+'|"[\w.\-]+")(?:\s*,\s*(?:'[\w.\-]+'|"[\w.\-]+"))+""")


def rewrite_segments(text: str) -> Tuple[str, List[str]]:
    """`join(root, 'switch', 'lua')`: a run of quoted path segments read as one path."""
    changes: List[str] = []

    def fix(m: 're.Match[str]') -> str:
        parts = re.findall(r"""(['"])([\w.\-]+)\1""", m.group(0))
        quote = parts[0][0]
        path = '/'.join(p for _, p in parts)
        new_path, n = rewrite_tokens(path)
        if n == 0:
            return m.group(0)
        out = ', '.join(quote + s + quote for s in new_path.split('/'))
        changes.append(f'{m.group(0)} → {out}')
        return out

    return SEGMENTS.sub(fix, text), changes


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r'[^\w _-]', '', heading.strip().lower()).replace(' ', '-')


def anchor_renames(before: Dict[str, str], after: Dict[str, str]) -> Dict[str, str]:
    renames: Dict[str, str] = {}
    for f, old_text in before.items():
        old_h = re.findall(r'^#+ (.*)$', old_text, re.M)
        new_h = re.findall(r'^#+ (.*)$', after[f], re.M)
        if len(old_h) != len(new_h):
            continue
        for a, b in zip(old_h, new_h):
            if anchor(a) != anchor(b):
                renames[anchor(a)] = anchor(b)
                log(f'anchor {f}: #{anchor(a)} → #{anchor(b)}')
    return renames


QUOTED = re.compile(r"""(['"`])([^'"`\n]*)\1""")


def rewrite_sibling_dirs(before: str, after: str, window: int = 3) -> Tuple[str, List[str]]:
    """`mkdirSync('dist/switch')` next to a write of 'dist/switch/main.js': when a quoted file path
    moved to another folder, the quoted old folder (two segments or more) within `window` lines
    follows it."""
    old_lines, new_lines = before.split('\n'), after.split('\n')
    if len(old_lines) != len(new_lines):
        return after, []
    changes: List[str] = []
    for i, (a, b) in enumerate(zip(old_lines, new_lines)):
        if a == b:
            continue
        olds, news = QUOTED.findall(a), QUOTED.findall(b)
        if len(olds) != len(news):
            continue
        for (_, x), (_, y) in zip(olds, news):
            dx, dy = posixpath.dirname(x), posixpath.dirname(y)
            if x == y or dx == dy or '/' not in dx or not dy:
                continue
            for j in range(max(0, i - window), min(len(new_lines), i + window + 1)):
                for q in ("'", '"', '`'):
                    lit = q + dx + q
                    if lit in new_lines[j]:
                        new_lines[j] = new_lines[j].replace(lit, q + dy + q)
                        changes.append(f'{lit} → {q}{dy}{q}')
    return '\n'.join(new_lines), changes


def new_top_folders() -> List[str]:
    tops: List[str] = []
    for _, new in MOVES:
        top = new.split('/')[0]
        if top not in tops:
            tops.append(top)
    return tops


def fix_tsconfig_include(text: str) -> Tuple[str, List[str]]:
    """Top-level folders of the new layout join an include list that names switch."""
    added: List[str] = []

    def fix(m: 're.Match[str]') -> str:
        items = re.findall(r'"([^"]+)"', m.group(2))
        if 'switch' not in items:
            return m.group(0)
        missing = [t for t in new_top_folders() if t not in items]
        if not missing:
            return m.group(0)
        added.extend(missing)
        i = items.index('switch')
        items = items[:i] + [t for t in missing if t == 'app'] + items[i:i + 1] + [t for t in missing if t != 'app'] + items[i + 1:]
        return m.group(1) + ', '.join(f'"{t}"' for t in items) + m.group(3)

    return re.sub(r'("include"\s*:\s*\[)([^\]]*)(\])', fix, text), added


# ---------------------------------------------------------------------------------------------
# Files


def git(root: str, *args: str, check: bool = True) -> str:
    r = subprocess.run(['git', *args], cwd=root, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f'git {" ".join(args)}: {r.stderr.strip()}')
    return r.stdout


def walk(root: str) -> List[str]:
    out: List[str] = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
        rel_d = os.path.relpath(d, root)
        for f in sorted(files):
            p = f if rel_d == '.' else posixpath.join(rel_d.replace(os.sep, '/'), f)
            if os.path.islink(os.path.join(root, p)):
                continue
            out.append(p)
    return out


def is_code(p: str) -> bool:
    return p.endswith(CODE_EXT)


def is_text(root: str, p: str) -> bool:
    if p.startswith(SKIP_TEXT_PREFIXES):
        return False
    if p.endswith(TEXT_EXT):
        return True
    if '.' in posixpath.basename(p):
        return False
    try:  # extensionless scripts (.ci/run)
        with open(os.path.join(root, p), 'rb') as fh:
            head = fh.read(4096)
        return b'\0' not in head and head.startswith(b'#!')
    except OSError:
        return False


def read(root: str, p: str) -> str:
    with open(os.path.join(root, p), encoding='utf-8') as fh:
        return fh.read()


def write(root: str, p: str, text: str) -> None:
    with open(os.path.join(root, p), 'w', encoding='utf-8') as fh:
        fh.write(text)


# ---------------------------------------------------------------------------------------------
# Step 2: the ProcessedEvent type in a types-only module

# The interface with the doc comment right above it (one line or several), up to its closing brace.
EVENT_BLOCK = re.compile(r'(?:/\*\*(?:(?!\*/).)*\*/\n)?export interface ProcessedEvent \{\n.*?\n\}\n\n?', re.S)


def extract_events(root: str, dry: bool) -> None:
    if os.path.exists(os.path.join(root, EVENTS_MODULE)) or os.path.exists(os.path.join(root, map_path(EVENTS_MODULE))):
        log(f'events: {EVENTS_MODULE} exists, nothing to extract')
        return
    src_path = os.path.join(root, EVENT_SOURCE)
    if not os.path.exists(src_path):
        log(f'events: WARNING {EVENT_SOURCE} is gone; ProcessedEvent not moved')
        return
    src = read(root, EVENT_SOURCE)
    m = EVENT_BLOCK.search(src)
    if m is None:
        log(f'events: WARNING no `export interface ProcessedEvent` in {EVENT_SOURCE}; not moved')
        return
    block = m.group(0).rstrip('\n') + '\n'
    to_events = rel_spec(EVENTS_MODULE[:-3] + '.js', posixpath.dirname(EVENT_SOURCE), False)
    # Types the block names that render.ts imports from its neighbours go along as type imports.
    names = set(re.findall(r'\b[A-Z]\w+\b', block)) - {'ProcessedEvent'}
    imports = []
    for im in re.finditer(r"^import (type )?\{([^}]*)\} from '([^']+)';$", src, re.M):
        wanted = []
        for part in im.group(2).split(','):
            name = part.strip().removeprefix('type ').strip()
            if name in names:
                wanted.append(name)
        if wanted:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(EVENT_SOURCE), im.group(3)))
            spec = rel_spec(target, posixpath.dirname(EVENTS_MODULE), False)
            imports.append(f"import type {{ {', '.join(wanted)} }} from '{spec}';")
    events = (
        "// The switch's public event: one decided message as the live feed, the Prometheus metrics and\n"
        "// the partner metrics see it. Types only, so the management API reads it without importing the\n"
        "// deciding code; switch/process/render.ts builds it (renderEvent).\n"
        + ''.join(i + '\n' for i in imports) + '\n' + block
    )
    new_src = src[: m.start()] + src[m.end():]
    new_src = prune_unused_imports(new_src, names)
    # render.ts keeps naming the type (renderEvent returns it) and re-exports it for its importers.
    last_import = list(re.finditer(r"^import [^\n]*;$", new_src, re.M))[-1]
    ins = f"\nimport type {{ ProcessedEvent }} from '{to_events}';\nexport type {{ ProcessedEvent }} from '{to_events}';"
    new_src = new_src[: last_import.end()] + ins + new_src[last_import.end():]
    log(f'events: ProcessedEvent moved from {EVENT_SOURCE} to {EVENTS_MODULE} ({len(block.splitlines())} lines), re-exported there')
    if not dry:
        write(root, EVENTS_MODULE, events)
        write(root, EVENT_SOURCE, new_src)


def prune_unused_imports(src: str, candidates: set) -> str:
    """Names among `candidates` that a one-line named import brings in but the file no longer uses."""
    body = re.sub(r"^import [^\n]*;$", '', src, flags=re.M)

    def fix(im: 're.Match[str]') -> str:
        kept = []
        for part in im.group(2).split(','):
            name = part.strip().removeprefix('type ').strip()
            if not name:
                continue
            if name in candidates and not re.search(r'\b' + re.escape(name) + r'\b', body):
                continue
            kept.append(part.strip())
        if not kept:
            return '\0'
        return f"import {im.group(1) or ''}{{ {', '.join(kept)} }} from '{im.group(3)}';"

    out = re.sub(r"^import (type )?\{([^}]*)\} from '([^']+)';$", fix, src, flags=re.M)
    return out.replace('\0\n', '')


def retarget_event_imports(root: str, files: List[str], dry: bool) -> None:
    """`import type { ProcessedEvent } from '…/process/batch.js'` (the type alone) → the events module."""
    pat = re.compile(r"import type \{\s*ProcessedEvent\s*\} from '(\.\.?/[^']+)';")
    for f in files:
        if not is_code(f) or f in (EVENTS_MODULE,) + EVENT_REEXPORTERS:
            continue
        text = read(root, f)
        if 'ProcessedEvent' not in text:
            continue

        def fix(m: 're.Match[str]') -> str:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(f), m.group(1)))
            stem, _ = split_ext(target)
            if stem + '.ts' not in EVENT_REEXPORTERS:
                return m.group(0)
            spec = rel_spec(EVENTS_MODULE[:-3] + '.js', posixpath.dirname(f), False)
            log(f'events: {f}: {m.group(1)} → {spec}')
            return f"import type {{ ProcessedEvent }} from '{spec}';"

        new = pat.sub(fix, text)
        if new != text and not dry:
            write(root, f, new)


# ---------------------------------------------------------------------------------------------
# Step 1: moves


def planned_moves(root: str) -> List[Tuple[str, str]]:
    """Every file to move (folders expanded), tracked or not; entries whose source is gone are skipped."""
    tracked = set(git(root, 'ls-files', '-z').split('\0')) - {''}
    untracked = set(git(root, 'ls-files', '-z', '-o', '--exclude-standard').split('\0')) - {''}
    present = tracked | untracked
    moves: List[Tuple[str, str]] = []
    for old, new in MOVES:
        if old.endswith('/'):
            files = sorted(p for p in present if p.startswith(old))
            if not files:
                log(f'skip {old}: not in the tree (moved already?)')
            moves.extend((p, map_path(p)) for p in files)
        elif old in present:
            moves.append((old, new))
        else:
            log(f'skip {old}: not in the tree (moved already?)')
    return moves


def apply_moves(root: str, moves: List[Tuple[str, str]], dry: bool) -> bool:
    tracked = set(git(root, 'ls-files', '-z').split('\0')) - {''}
    ok = True
    for old, new in moves:
        if os.path.exists(os.path.join(root, new)):
            log(f'ERROR {new} exists already; {old} not moved')
            ok = False
            continue
        log(f'move {old} → {new}')
        if dry:
            continue
        os.makedirs(os.path.dirname(os.path.join(root, new)) or root, exist_ok=True)
        if old in tracked:
            git(root, 'mv', old, new)
        else:
            os.rename(os.path.join(root, old), os.path.join(root, new))
    if not dry:
        for old, _ in MOVES:  # folders left empty
            d = os.path.join(root, old.rstrip('/') if old.endswith('/') else os.path.dirname(old))
            while d != root and os.path.isdir(d) and not os.listdir(d):
                os.rmdir(d)
                d = os.path.dirname(d)
    return ok


# ---------------------------------------------------------------------------------------------
# Step 5: checks


def resolves(root: str, file: str, spec: str) -> bool:
    target = posixpath.normpath(posixpath.join(posixpath.dirname(file), spec))
    full = os.path.join(root, target)
    if os.path.exists(full):
        return True
    stem, ext = split_ext(target)
    alternatives = {'.js': ('.ts', '.tsx', '.d.ts'), '.mjs': ('.mts',), '.cjs': ('.cts',), '': ('.ts', '.js', '/index.ts', '/index.js')}
    return any(os.path.exists(os.path.join(root, stem + a)) for a in alternatives.get(ext, ()))


def specifiers(text: str) -> List[str]:
    out = []
    for pat in SPEC_PATTERNS:
        out.extend(m.group('s') for m in pat.finditer(text))
    return out


def top(p: str) -> str:
    return p.split('/')[0]


def layering(file: str, target: str) -> Optional[str]:
    """The rule an import from `file` to `target` (both repository-relative, new layout) breaks."""
    f, t = file, target
    if top(f) == 'api' and top(t) == 'switch' and not t.startswith(('switch/events.', 'switch/events/')):
        return 'api/ imports from switch/ only the events type (switch/events.ts)'
    if top(f) == 'switch' and top(t) == 'api':
        return 'switch/ never imports api/ (app/ wires them)'
    if f.startswith('switch/process/') and t.startswith('switch/net/'):
        return 'switch/process never imports switch/net'
    if top(f) in ('switch', 'stores', 'iso', 'ledger', 'adapters', 'api') and top(t) == 'app':
        return f'{top(f)}/ imports the composition root app/ (upward)'
    if top(f) in ('stores', 'iso') and top(t) in ('switch', 'api'):
        return f'{top(f)}/ sits below switch/ and api/'
    if top(f) == 'iso' and top(t) in ('stores', 'ledger', 'adapters'):
        return 'iso/ is a leaf library'
    return None


def check(root: str, strict: bool) -> int:
    files = [p for p in walk(root) if is_code(p)]
    unresolved: List[str] = []
    broken: List[str] = []
    both: List[str] = []
    for f in files:
        text = read(root, f)
        if TEMPLATE_IMPORT.search(text):
            log(f'note: {f} has an import() of a template string; not checked')
        tops = set()
        for spec in specifiers(text):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(f), spec))
            if not resolves(root, f, spec):
                unresolved.append(f'{f}: {spec}')
                continue
            tops.add(top(target))
            if f.startswith('test/'):
                continue
            rule = layering(f, target)
            if rule:
                broken.append(f'{f} → {target}: {rule}')
        # api/ and switch/ files import their own folder; their imports of each other are rules above.
        if {'switch', 'api'} <= tops and top(f) not in ('app', 'test', 'api', 'switch'):
            both.append(f)
    for u in unresolved:
        log(f'UNRESOLVED {u}')
    for b in broken:
        log(f'LAYERING {b}')
    for b in both:
        log(f'LAYERING {b} imports both switch/ and api/ (only app/ should)')
    log(f'check: {len(files)} code files, {len(unresolved)} unresolved specifiers, {len(broken) + len(both)} layering notes')
    if unresolved:
        return 1
    if strict and (broken or both):
        return 2
    return 0


# ---------------------------------------------------------------------------------------------


def main(argv: List[str]) -> int:
    dry = '--dry-run' in argv
    strict = '--strict' in argv
    root = git(os.path.dirname(os.path.abspath(__file__)), 'rev-parse', '--show-toplevel').strip()
    if '--check' in argv:
        return check(root, strict)
    dirty = [l for l in git(root, 'status', '--porcelain').splitlines() if not l.endswith('scripts/reshape-tree.py')]
    if dirty:
        log(f'note: the work tree has {len(dirty)} uncommitted change(s); they are moved and rewritten too')

    # Step 2 first: it edits files in the old layout.
    extract_events(root, dry)
    files = walk(root)
    retarget_event_imports(root, files, dry)

    # Step 3 is computed on the old layout, in memory, before anything moves.
    moves = planned_moves(root)
    move_of: Dict[str, str] = dict(moves)
    future = {move_of.get(f, f) for f in files}
    rewritten: Dict[str, str] = {}
    for f in files:
        if not (is_code(f) or is_text(root, f)):
            continue
        if f.startswith(SKIP_TEXT_PREFIXES):
            continue
        text = read(root, f)
        new_f = move_of.get(f, f)
        out = text
        notes: List[str] = []
        held: List[str] = []
        if is_code(f):
            out, spec_changes = rewrite_specifiers(out, f, new_f, future)
            notes += spec_changes
            out, held = hold_specifiers(out)
            out, seg_changes = rewrite_segments(out)
            notes += seg_changes
        before_tokens = out
        out, n = rewrite_tokens(out)
        if n and is_code(f):
            out, dir_changes = rewrite_sibling_dirs(before_tokens, out)
            notes += dir_changes
        out = release_specifiers(out, held)
        if n:
            notes.append(f'{n} path(s) in text')
        if posixpath.basename(f).startswith('tsconfig') and f.endswith('.json'):
            out, added = fix_tsconfig_include(out)
            if added:
                notes.append(f'include += {", ".join(added)}')
        if out != text:
            rewritten[f] = out
            log(f'edit {new_f}' + (f' (was {f})' if new_f != f else '') + ': ' + '; '.join(notes))

    # A heading whose path changed has a new anchor: links to the old one follow it.
    renames = anchor_renames({f: read(root, f) for f in rewritten if f.endswith('.md')}, rewritten)
    if renames:
        for f in files:
            if not (is_code(f) or is_text(root, f)) or f.startswith(SKIP_TEXT_PREFIXES):
                continue
            text = rewritten.get(f) or read(root, f)
            out = text
            for old_a, new_a in renames.items():
                out = re.sub('#' + re.escape(old_a) + r'(?![\w-])', '#' + new_a, out)
            if out != text:
                rewritten[f] = out
                log(f'edit {move_of.get(f, f)}: links to renamed headings')

    ok = apply_moves(root, moves, dry)
    if dry:
        log('dry run: nothing changed')
        return 0 if ok else 1
    for f, text in rewritten.items():
        write(root, move_of.get(f, f), text)
    rc = check(root, strict)
    if not ok:
        rc = rc or 1
    log('done' if rc == 0 else f'done with problems (exit {rc})')
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
