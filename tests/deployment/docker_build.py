"""The Dockerfile and .dockerignore read as Docker reads them: instructions with line continuations, build stages
with their ARG-resolved base images, and the build context that the ignore file leaves (last match wins, a
pattern matches a path or any of its parent directories, `!` lets a path back in)."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.deployment.compose_files import REPOSITORY

DOCKERFILE = REPOSITORY / "Dockerfile"
DOCKERIGNORE = REPOSITORY / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY ...
    arguments: str
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """`["python", "-m", "x"]` as a list; None for the shell form."""
        if self.arguments.startswith("["):
            parsed = json.loads(self.arguments)
            assert isinstance(parsed, list)
            return [str(part) for part in parsed]
        return None

    @property
    def flags(self) -> dict[str, str]:
        """Leading `--name=value` options (COPY --from=build, ...)."""
        flags: dict[str, str] = {}
        for word in shlex.split(self.arguments):
            if not word.startswith("--"):
                break
            name, _, value = word[2:].partition("=")
            flags[name] = value
        return flags

    @property
    def words(self) -> list[str]:
        """The arguments without leading flags, split like a shell would."""
        words = shlex.split(self.arguments)
        while words and words[0].startswith("--"):
            words.pop(0)
        return words


def parse_dockerfile(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction is dropped, as Docker does
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, arguments = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def assignments(instruction: Instruction) -> dict[str, str | None]:
    """ENV/ARG `NAME=value ...` pairs (ARG NAME without a value maps to None; legacy `ENV NAME value` too)."""
    words = shlex.split(instruction.arguments)
    if instruction.keyword == "ENV" and words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    pairs: dict[str, str | None] = {}
    for word in words:
        name, equals, value = word.partition("=")
        pairs[name] = value if equals else None
    return pairs


@dataclass
class Stage:
    base_image: str  # with global ARG defaults substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)


def build_stages(instructions: list[Instruction]) -> list[Stage]:
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = instruction.words
            image = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: global_args.get(m[1]) or "", words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages:
            assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG may come before the first FROM"
            global_args.update(assignments(instruction))
        else:
            stages[-1].instructions.append(instruction)
    return stages


# ------------------------------------------------------------------ .dockerignore


@dataclass(frozen=True)
class IgnorePattern:
    pattern: str
    allows: bool  # a `!pattern`: lets matching paths back into the context
    regex: re.Pattern[str]


def _translate(pattern: str) -> re.Pattern[str]:
    out, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            body = pattern[index + 1 : end]
            out, index = out + "[" + ("^" + body[1:] if body.startswith("!") else body) + "]", end + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(f"^{out}$")


def read_dockerignore(path: Path = DOCKERIGNORE) -> list[IgnorePattern]:
    patterns = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        allows = line.startswith("!")
        cleaned = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        patterns.append(IgnorePattern(cleaned, allows, _translate(cleaned)))
    return patterns


def is_excluded(relative_path: str, patterns: list[IgnorePattern]) -> bool:
    """Whether Docker leaves `relative_path` (POSIX, from the context root) out of the build context."""
    parts = relative_path.split("/")
    candidates = ["/".join(parts[: length + 1]) for length in range(len(parts))]
    excluded = False
    for pattern in patterns:
        if any(pattern.regex.match(candidate) for candidate in candidates):
            excluded = not pattern.allows
    return excluded


def build_context(root: Path = REPOSITORY, patterns: list[IgnorePattern] | None = None) -> set[str]:
    """Every file Docker would send as the build context of `root`."""
    patterns = read_dockerignore() if patterns is None else patterns
    allowed_prefixes = [pattern.pattern for pattern in patterns if pattern.allows]
    files: set[str] = set()
    for directory, subdirectories, names in os.walk(root):
        relative = Path(directory).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        # Skip a directory left out whole, unless an allowing pattern reaches inside it.
        subdirectories[:] = [
            name
            for name in subdirectories
            if not is_excluded(prefix + name, patterns)
            or any(allowed.startswith(f"{prefix}{name}/") or allowed.startswith("**") for allowed in allowed_prefixes)
        ]
        files.update(prefix + name for name in names if not is_excluded(prefix + name, patterns))
    return files
