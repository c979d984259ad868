"""Model parameters: what a config (or request) parameter string may be, parsed once.

``Param`` pairs a parser with the parameter's default, doc, range and whether a request may
override it; ``number``, ``integer``, ``numbers``, ``options``, ``flag`` and ``path`` make
the kinds the models use. The only parsers of parameter strings in the project.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Bounds:
    """The numbers a parameter allows: [lo, hi], with either end open."""
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, v: Any) -> bool:
        # nan compares false both ways, inf lies beyond every hi: both are outside.
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return bool(above and below)

    def __str__(self) -> str:
        return (f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}"
                f"{')' if self.hi_open else ']'}")


_BAD = object()


@dataclass(frozen=True)
class Param:
    """A config parameter: parser from the config's string, default, meaning, and the values
    it allows (``expected``, with ``{range}`` standing for ``bounds``) and why. The same
    check refuses a config value at load and a request value per request (``value``)."""
    parse: Callable[[str], Any]
    default: str
    doc: str
    overridable: bool = False  # a request parameter of the same name may override it
    expected: str = "a string"
    bounds: Bounds | None = None  # every number of the value lies inside
    why: str = ""

    @property
    def accepts(self) -> str:
        """What a valid value is, e.g. 'a number in (0, 128]'."""
        return self.expected.format(range=self.bounds)

    def value(self, given: Any) -> Any:
        """A config string or a request value, typed and checked.

        Args:
            given: the config's string, or a request's value (a JSON string, number or bool).

        Returns:
            The typed value (what ``parse`` makes of it), inside ``bounds``.

        Raises:
            ValueError: 'expected <accepts>, got <given>' when it does not parse or lies outside.
        """
        try:
            v = self.parse(given if isinstance(given, str) else str(given))
        except (ValueError, TypeError, ArithmeticError):
            v = _BAD
        if v is _BAD or not self._inside(v):
            raise ValueError(f"expected {self.accepts}, got {given!r}")
        return v

    def _inside(self, v: Any) -> bool:
        if self.bounds is None or v is None or isinstance(v, (str, bool)):
            return True
        return all(x in self.bounds for x in (v if isinstance(v, tuple) else (v,)))


def parse_bool(text: str) -> bool:
    """'true', 'yes', 'on', '1' -> True; 'false', 'no', 'off', '0' -> False (any case).

    Args:
        text: the parameter string.

    Returns:
        The flag.

    Raises:
        ValueError: any other text.
    """
    t = str(text).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_floats(text: str) -> tuple[float, ...]:
    """'0.485 0.456 0.406', '0.5,0.5' or '1/255' -> floats.

    Args:
        text: numbers separated by spaces or commas, each a float or a fraction a/b.

    Returns:
        The numbers, in order (one or more).

    Raises:
        ValueError: no number, or a part that is not one.
        ZeroDivisionError: a fraction with denominator 0.
    """
    out = []
    for part in str(text).replace(",", " ").split():
        a, _, b = part.partition("/")
        out.append(float(a) / float(b) if b else float(a))
    if not out:
        raise ValueError(f"expected one or more numbers, got {text!r}")
    return tuple(out)


def parse_float(text: str) -> float:
    """Exactly one number, as ``parse_floats`` reads it.

    Args:
        text: the parameter string, e.g. '8' or '1/255'.

    Returns:
        The number.

    Raises:
        ValueError: not a number, or more than one.
    """
    vals = parse_floats(text)
    if len(vals) != 1:
        raise ValueError(f"expected one number, got {text!r}")
    return vals[0]


def parse_optional_float(text: str) -> float | None:
    """A number, or None for '', 'none' or 'off' (any case).

    Args:
        text: the parameter string.

    Returns:
        The number, or None.

    Raises:
        ValueError: neither a number nor one of the words.
    """
    return None if str(text).strip().lower() in ("", "none", "off") else parse_float(text)


def choice(*options: str) -> Callable[[str], str]:
    """A parser that accepts exactly one of ``options``.

    Args:
        *options: the allowed strings (case-sensitive).

    Returns:
        A function: text -> text, raising ValueError for any other string.
    """
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {text!r}")
        return text
    return parse


def parse_int(text: str) -> int:
    """'5' -> 5 (digits only, an optional sign: not '5.0', '1e3' or 'True').

    Args:
        text: the parameter string (surrounding white space allowed).

    Returns:
        The integer.

    Raises:
        ValueError: anything else.
    """
    if not re.fullmatch(r"\s*[-+]?\d+\s*", text):
        raise ValueError(f"expected an integer, got {text!r}")
    return int(text)


# Parameters the Python backend itself reads; a model's config may carry them.
BACKEND_PARAMETERS = frozenset({"FORCE_CPU_ONLY_INPUT_TENSORS", "EXECUTION_ENV_PATH"})


def parse_all(params: Mapping[str, Param], raw: Mapping[str, str], where: str) -> dict[str, Any]:
    """Every parameter typed from its config string (its default when absent).

    Args:
        params: the model's parameters by name.
        raw: the config's parameter strings by name (the Python backend's own may be among them).
        where: what the error messages start with, e.g. the model's name.

    Returns:
        Name -> typed value, for every name of ``params``.

    Raises:
        ValueError: an unknown name or a bad value; the message starts with ``where``.
    """
    unknown = sorted(set(raw) - set(params) - BACKEND_PARAMETERS)
    if unknown:
        raise ValueError(f"{where}: unknown parameter(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(params))}")
    out = {}
    for name, p in params.items():
        try:
            out[name] = p.value(raw.get(name, p.default))
        except ValueError as e:
            raise ValueError(f"{where}: parameter {name}: {e}") from None
    return out


# The kinds of parameter (what ``Param.parse`` turns a string into, and how its range reads).
def number(default: str, doc: str, bounds: Bounds, why: str, overridable: bool = False,
           none: str = "") -> Param:
    """A number in bounds; with ``none``, also the word none (off, or '') meaning that.

    Args:
        default: the config's default string.
        doc: what the parameter means.
        bounds: the numbers allowed.
        why: why that range.
        overridable: a request may override it.
        none: what none means, e.g. 'no limit' (empty: none is not allowed).

    Returns:
        The Param.
    """
    if none:
        return Param(parse_optional_float, default, doc, overridable,
                     f"a number in {{range}} or none ({none})", bounds, why)
    return Param(parse_float, default, doc, overridable, "a number in {range}", bounds, why)


def integer(default: str, doc: str, lo: int, hi: int, why: str, overridable: bool = False,
            odd: bool = False, off: bool = False) -> Param:
    """An integer in [lo, hi]; odd: only odd ones (off: 0 too, meaning off).

    Args:
        default: the config's default string.
        doc: what the parameter means.
        lo: the smallest value allowed.
        hi: the largest value allowed.
        why: why that range.
        overridable: a request may override it.
        odd: only odd values (a kernel size).
        off: with ``odd``, 0 is allowed too and means off.

    Returns:
        The Param.
    """
    def parse(text: str) -> int:
        v = parse_int(text)
        if odd and v % 2 == 0 and not (off and v == 0):
            raise ValueError(f"expected an odd integer, got {v}")
        return v
    kind = "an odd integer" if odd else "an integer"
    return Param(parse, default, doc, overridable,
                 ("0 (off) or " if off else "") + kind + " in {range}", Bounds(lo, hi), why)


def numbers(default: str, doc: str, bounds: Bounds, why: str) -> Param:
    """One number, or three (one per channel), each in bounds.

    Args:
        default: the config's default string.
        doc: what the parameter means.
        bounds: the numbers allowed, for each.
        why: why that range.

    Returns:
        The Param (config only); its value is a tuple of 1 or 3 floats.
    """
    def parse(text: str) -> tuple[float, ...]:
        vals = parse_floats(text)
        if len(vals) not in (1, 3):
            raise ValueError(f"expected one or three numbers, got {len(vals)}")
        return vals
    return Param(parse, default, doc, False, "one or three numbers, each in {range}", bounds, why)


def options(default: str, doc: str, *names: str, overridable: bool = False, why: str = "") -> Param:
    """One of ``names``.

    Args:
        default: the config's default string.
        doc: what the parameter means.
        *names: the allowed values.
        overridable: a request may override it.
        why: why these values.

    Returns:
        The Param.
    """
    return Param(choice(*names), default, doc, overridable, "one of " + ", ".join(names), None, why)


def flag(default: str, doc: str) -> Param:
    """true or false (as ``parse_bool`` reads them); config only.

    Args:
        default: the config's default string.
        doc: what the parameter means.

    Returns:
        The Param.
    """
    return Param(parse_bool, default, doc, False, "true or false")


def path(default: str, doc: str, expected: str, ok: Callable[[str], bool], why: str) -> Param:
    """A file name or path that ``ok`` accepts (config only: it names what the model loads).

    Args:
        default: the config's default string.
        doc: what the parameter means.
        expected: what a valid value is, in words (the error message's).
        ok: the check of a value.
        why: why only those.

    Returns:
        The Param.
    """
    def parse(text: str) -> str:
        if not ok(text):
            raise ValueError(f"expected {expected}, got {text!r}")
        return text
    return Param(parse, default, doc, False, expected, None, why)
