"""Every command's options: one dataclass per command, parsed by transformers' HfArgumentParser
(the parser training uses), with values from an options file under the command line's.

Precedence: the dataclass's defaults < `--options FILE.yaml` (or .json) < flags. A file may start
from another with `base: OTHER.yaml` (relative to its own folder) and override its values. Keys
are the flags' names without `--`; an unknown key, or a value the flag would refuse (a type, a
choice), stops the command in one line naming the file and the key.

HfArgumentParser turns each field into `--name` (and `--name-with-dashes`), with `Literal` or
`Enum` types as choices and `metadata={"help": ...}` as help. Three conventions our commands had
before they used it are kept here, so no user's command line changes:
- a field with `metadata={"positional": True}` is a positional argument (`nargs` from metadata);
- a `bool` field is a bare switch (`--overwrite`), with `--no_overwrite` to undo a file's `true`
  (HfArgumentParser's `--flag [true|false]` would swallow a following positional argument);
- a `list` field may be repeated (`--dataset_dir A --dataset_dir B`): each occurrence adds to the
  list and the first replaces the default or the file's list; `metadata={"nargs": None}` takes one
  value per occurrence, as `action="append"` did.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from transformers import HfArgumentParser

OPTIONS_FLAG = "--options"
DEBUG_FLAG = "--debug"
BASE_KEY = "base"
# Metadata keys this module reads; HfArgumentParser would hand them to argparse unchanged.
POSITIONAL, NARGS = "positional", "nargs"


def read_options_file(
    path: str | Path, what: str = "the options file", seen: tuple[Path, ...] = ()
) -> dict:
    """The file's values on top of those of its `base:` file (and that file's base, ...)."""
    path = Path(path)
    if path.resolve() in seen:
        raise ValueError(f"{path}: `base:` files include each other")
    try:
        text = path.read_text()
    except OSError as error:
        raise ValueError(f"{path}: cannot read {what} ({error.strerror})") from error
    try:
        values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0]
        raise ValueError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'} "
                         f"({reason})") from error  # fmt: skip
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of option names to values")
    base = values.pop(BASE_KEY, None)
    if base is None:
        return values
    return {**read_options_file(path.parent / base, what, (*seen, path.resolve())), **values}


def _unwrap_optional(annotation: Any) -> Any:
    """`X | None` -> X (HfArgumentParser does the same before choosing an argparse action)."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(inner) == 1:
            return inner[0]
    return annotation


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


class _AddToList(argparse.Action):
    """A list flag given again adds to the list; its first occurrence replaces the default (the
    field's, or the options file's)."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:
            current = []
        setattr(
            namespace, self.dest, [*current, *(values if isinstance(values, list) else [values])]
        )


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each help text (not the empty ones: None, False, [], ""); the
    description's own line breaks kept."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if (
            default is None
            or default is False
            or default is argparse.SUPPRESS
            or default in ([], "")
        ):
            return action.help
        return super()._get_help_string(action)


class CommandParser(HfArgumentParser):
    """HfArgumentParser with our commands' conventions (see the module's docstring), the
    `--options FILE` flag, `--debug`, and usage errors in one line."""

    def __init__(
        self,
        dataclass_types,
        prog: str,
        description: str | None = None,
        options_flags: tuple[str, ...] = (OPTIONS_FLAG,),
        switches: bool = True,
        debug_switch: bool = True,
    ):
        self._switches = switches  # read by _parse_dataclass_field during __init__
        super().__init__(
            dataclass_types, prog=prog, description=description, formatter_class=_HelpFormatter
        )
        self.options_flags = options_flags
        self.add_argument(
            *options_flags, dest="options_file", metavar="FILE.yaml",
            help="read options from this YAML (or JSON) file, keys named as the flags; flags "
            "given here override it (`base: OTHER.yaml` starts from another file)",
        )  # fmt: skip
        if debug_switch:
            self.add_argument(
                DEBUG_FLAG, action="store_true", help="show tracebacks of errors and debug logs"
            )

    def _parse_dataclass_field(self, parser, field: dataclasses.Field) -> None:
        metadata = dict(field.metadata)
        help_text = metadata.pop("help", None)
        annotation = _unwrap_optional(field.type)
        if metadata.pop(POSITIONAL, False):
            if get_origin(annotation) is list:
                annotation = get_args(annotation)[0]
            parser.add_argument(
                field.name, type=annotation, default=_default(field), help=help_text, **metadata
            )
            return
        names = [f"--{field.name}"]
        if "_" in field.name:
            names.append(f"--{field.name.replace('_', '-')}")
        if annotation is bool and self._switches:
            parser.add_argument(*names, action="store_true", default=bool(field.default),
                                help=help_text)  # fmt: skip
            if not field.name.startswith("no_"):
                parser.add_argument(f"--no_{field.name}", dest=field.name, action="store_false",
                                    help=argparse.SUPPRESS)  # fmt: skip
            return
        if get_origin(annotation) is list:
            parser.add_argument(
                *names, *metadata.pop("aliases", []), action=_AddToList,
                type=get_args(annotation)[0], nargs=metadata.pop(NARGS, "+"),
                default=_default(field), help=help_text, **metadata,
            )  # fmt: skip
            return
        HfArgumentParser._parse_dataclass_field(parser, field)

    def error(self, message: str):
        """One line and exit 2, instead of argparse's usage block."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def field_actions(self) -> dict[str, argparse.Action]:
        """Each field's own action (a switch's, not its `--no_` twin's), by field name."""
        names = {f.name for cls in self.dataclass_types for f in dataclasses.fields(cls)}
        actions: dict[str, argparse.Action] = {}
        for action in self._actions:
            if action.dest in names:
                actions.setdefault(action.dest, action)
        return actions

    def file_value(self, action: argparse.Action, key: str, value: Any, path: str) -> Any:
        """The file's `key: value` as the flag would have it, or a one-line usage error."""
        where = f"{path}: {key}"
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                self.error(f"{where}: give true or false, not {value!r}")
            return value
        if value is None:
            if action.default is not None:
                self.error(f"{where}: needs a value")
            return None
        if isinstance(action, _AddToList) or action.nargs in ("+", "*"):
            items = value if isinstance(value, list) else [value]
            return [self._converted(action, item, where) for item in items]
        if isinstance(value, list | dict):
            self.error(f"{where}: give one value, not {value!r}")
        return self._converted(action, value, where)

    def _converted(self, action: argparse.Action, value: Any, where: str) -> Any:
        try:
            converted = action.type(str(value)) if callable(action.type) else value
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            name = getattr(action.type, "__name__", "")
            self.error(
                f"{where}: invalid {name + ' ' if name != '<lambda>' else ''}value {value!r}"
            )
        if action.choices is not None and converted not in action.choices:
            choices = ", ".join(str(choice) for choice in action.choices)
            self.error(f"{where}: {value!r} is not one of {choices}")
        return converted

    def apply_options_file(self, path: str, values: dict) -> None:
        """The file's values become the defaults the command line overrides."""
        actions = self.field_actions()
        unknown = sorted(set(values) - set(actions))
        if unknown:
            self.error(f"{path}: unknown option{'s' if len(unknown) > 1 else ''} "
                       f"{', '.join(unknown)} for {self.prog}")  # fmt: skip
        for key, value in values.items():
            action = actions[key]
            action.default = self.file_value(action, key, value, path)
            action.required = False
            if not action.option_strings:  # a positional the file gives may be left out
                action.nargs = {None: "?", "+": "*"}.get(action.nargs, action.nargs)

    def parse_command(self, argv: list[str] | None = None) -> tuple[Any, bool]:
        """(the options dataclass, whether --debug was given): the command line over the
        options file over the defaults."""
        argv = list(sys.argv[1:] if argv is None else argv)
        pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        pre.add_argument(*self.options_flags, dest="options_file")
        known, _ = pre.parse_known_args(argv)
        if known.options_file:
            try:
                values = read_options_file(known.options_file)
            except ValueError as error:
                self.error(str(error))
            self.apply_options_file(known.options_file, values)
        *options, extra, rest = self.parse_args_into_dataclasses(
            args=argv, return_remaining_strings=True, look_for_args_file=False
        )
        if rest:
            self.error(f"unrecognized arguments: {' '.join(rest)}")
        if extra.options_file != known.options_file:  # an abbreviation the file reader missed
            self.error(f"spell out {self.options_flags[0]} (the file was not read)")
        debug = bool(getattr(extra, "debug", False))
        return (options[0] if len(options) == 1 else tuple(options)), debug
