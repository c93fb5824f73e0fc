"""Load, override, validate, compare and save configurations.

One pass collects every problem in a YAML file and the ``key=value``
overrides, then raises a single :class:`ConfigError` that names each key and
what it accepts, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Union

import yaml

from sparkgan.config.schema import Config


class ConfigError(ValueError):
    """A configuration value, key or file that cannot be used; the message names it."""


_MISSING = object()
_NULL_WORDS = {"null", "none", "~"}
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


# Type introspection -----------------------------------------------------------

def _field_types(cls) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unwrap_optional(tp) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _is_mapping(tp) -> bool:
    return typing.get_origin(tp) in (dict, Mapping, typing.Mapping) or tp is dict


def describe_type(tp) -> str:
    """Describe the values a field type accepts, for error messages and help."""
    inner, optional = _unwrap_optional(tp)
    if typing.get_origin(inner) is Literal:
        text = "one of " + ", ".join(repr(a) for a in typing.get_args(inner))
    elif dataclasses.is_dataclass(inner):
        text = "a section"
    elif _is_mapping(inner):
        text = "a mapping of names to values"
    elif typing.get_origin(inner) is tuple:
        text = "a list of " + ", ".join(describe_type(a) for a in typing.get_args(inner))
    else:
        text = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
            inner, getattr(inner, "__name__", str(inner))
        )
    return text + (" or null" if optional else "")


# Value conversion -------------------------------------------------------------

def _parse_text(raw: str, tp) -> Any:
    """Convert a command-line override string to a value of type ``tp``."""
    inner, optional = _unwrap_optional(tp)
    text = raw.strip()
    if optional and text.lower() in _NULL_WORDS | {""}:
        return None
    if inner is bool:
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
        raise ValueError
    if inner is int:
        return int(text)
    if inner is float:
        return float(text)
    if inner is str or typing.get_origin(inner) is Literal:
        return text
    return yaml.safe_load(text)


def _check_value(value: Any, tp) -> Any:
    """Return ``value`` as type ``tp`` or raise ValueError (YAML file values)."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ValueError
    if typing.get_origin(inner) is Literal:
        if value in typing.get_args(inner) and not isinstance(value, bool):
            return value
        raise ValueError
    if inner is bool:
        if isinstance(value, bool):
            return value
        raise ValueError
    if inner is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError
    if inner is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # PyYAML reads "1e-4" (no dot) as a string; accept it as the number it is.
            return float(value)
        raise ValueError
    if inner is str:
        if isinstance(value, str):
            return value
        raise ValueError
    if typing.get_origin(inner) is tuple:
        args = typing.get_args(inner)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ValueError
        return tuple(_check_value(v, a) for v, a in zip(value, args))
    if _is_mapping(inner):
        if not isinstance(value, Mapping):
            raise ValueError
        return {str(k): v for k, v in value.items()}
    raise ValueError


def _range_problem(value: Any, meta: Mapping[str, Any]) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    low, high, exclusive = meta.get("min"), meta.get("max"), meta.get("min_exclusive")
    too_low = low is not None and (value < low or (exclusive and value == low))
    too_high = high is not None and value > high
    if not (too_low or too_high):
        return None
    bounds = []
    if low is not None:
        bounds.append(f"> {low}" if exclusive else f">= {low}")
    if high is not None:
        bounds.append(f"<= {high}")
    return "must be " + " and ".join(bounds)


# Building a config ------------------------------------------------------------

def _build(cls, values: Mapping[str, Any], prefix: str, errors: list[str]):
    types_by_name = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            full = prefix + key
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            accepted = ", ".join(prefix + name for name in fields)
            errors.append(f"unknown key '{full}'{hint}. Accepted keys: {accepted}")
    kwargs = {}
    for name, f in fields.items():
        tp = types_by_name[name]
        full = prefix + name
        if dataclasses.is_dataclass(tp):
            section = values.get(name, {})
            if section is None:
                section = {}
            if not isinstance(section, Mapping):
                errors.append(f"'{full}' must be a section of keys, got {section!r}")
                section = {}
            kwargs[name] = _build(tp, section, full + ".", errors)
            continue
        if name not in values:
            continue
        raw = values[name]
        try:
            value = _check_value(raw, tp)
        except (ValueError, TypeError):
            errors.append(f"invalid value {raw!r} for '{full}': expected {describe_type(tp)}")
            continue
        problem = _range_problem(value, f.metadata)
        if problem:
            errors.append(f"invalid value {raw!r} for '{full}': {problem}")
            continue
        kwargs[name] = value
    return cls(**kwargs)


def _set_dotted(tree: dict, cls, dotted: str, raw_text: str, errors: list[str]) -> None:
    """Place one ``a.b.c=value`` override into ``tree``, parsed by the field's type."""
    parts = dotted.split(".")
    node, node_cls = tree, cls
    for depth, part in enumerate(parts):
        types_by_name = _field_types(node_cls) if node_cls is not None else {}
        prefix = ".".join(parts[:depth])
        if part not in types_by_name:
            close = difflib.get_close_matches(part, list(types_by_name), n=1)
            hint = f" (did you mean '{'.'.join(parts[:depth] + [close[0]])}'?)" if close else ""
            accepted = ", ".join((prefix + "." if prefix else "") + n for n in types_by_name)
            errors.append(f"unknown key '{dotted}'{hint}. Accepted keys: {accepted}")
            return
        tp = types_by_name[part]
        inner, _ = _unwrap_optional(tp)
        if dataclasses.is_dataclass(inner):
            if depth == len(parts) - 1:
                errors.append(f"'{dotted}' is a section; set one of its keys, such as '{dotted}.<key>'")
                return
            node = node.setdefault(part, {})
            node_cls = inner
            continue
        if _is_mapping(inner) and depth < len(parts) - 1:
            # Mapping fields take free-form names: spark.conf.spark.executor.memory=2g
            node.setdefault(part, {})[".".join(parts[depth + 1:])] = _yaml_scalar(raw_text)
            return
        if depth != len(parts) - 1:
            errors.append(f"unknown key '{dotted}': '{'.'.join(parts[:depth + 1])}' is not a section")
            return
        try:
            node[part] = _parse_text(raw_text, tp)
        except (ValueError, TypeError, yaml.YAMLError):
            errors.append(f"invalid value {raw_text!r} for '{dotted}': expected {describe_type(tp)}")
        return


def _yaml_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(overrides: Iterable[str], errors: list[str], schema: type = Config) -> dict:
    """Turn ``key=value`` strings into a nested dict typed by the schema."""
    tree: dict = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            errors.append(f"invalid override {item!r}: write it as key=value, for example train.steps=500")
            continue
        _set_dotted(tree, schema, key.strip(), value, errors)
    return tree


def load_config(
    path: str | Path | None = None,
    overrides: Iterable[str] = (),
    base: Mapping | None = None,
    schema: type = Config,
):
    """Build a config from an optional YAML file and ``key=value`` overrides.

    ``base`` is a nested dict applied before the file (a saved run config).
    ``schema`` is the root dataclass: :class:`Config` for GAN training, or
    another frozen dataclass of sections built from the same field types.
    A schema with a ``config_problems()`` method returning a list of messages
    has them reported as errors too.

    Raises:
        ConfigError: naming every unknown key, wrong type and out-of-range
            value, with the accepted values.
    """
    errors: list[str] = []
    tree: dict = dict(base or {})
    if path is not None:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"config file {path} must contain a mapping of sections, got {type(loaded).__name__}")
        tree = _merge(tree, loaded)
    tree = _merge(tree, parse_overrides(overrides, errors, schema))
    config = _build(schema, tree, "", errors)
    if not errors and hasattr(config, "config_problems"):
        # A schema checks settings that depend on each other once each key is valid.
        errors.extend(config.config_problems())
    if errors:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(errors))
    return config


def config_from_dict(values: Mapping, schema: type = Config):
    """Validate a nested dict (such as a saved config) into a config of ``schema``."""
    return load_config(base=values, schema=schema)


def config_to_dict(config) -> dict:
    """Convert a config (or section) to nested plain dicts, lists and scalars."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = config_to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif isinstance(value, Mapping):
            out[f.name] = dict(value)
        else:
            out[f.name] = value
    return out


def config_to_yaml(config) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def save_config(config, path: str | Path) -> None:
    """Write the config as YAML, atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(config_to_yaml(config))
    tmp.replace(path)


def flatten(values: Mapping, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to ``{"a.b": value}``."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def diff_configs(old, new) -> list[tuple[str, Any, Any]]:
    """List ``(key, old value, new value)`` for every key that differs."""
    a, b = flatten(config_to_dict(old)), flatten(config_to_dict(new))
    return [(k, a.get(k, _MISSING), b.get(k, _MISSING)) for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)]


def replace(config, **changes):
    """Return a copy of a frozen config or section with dotted keys changed.

    ``replace(cfg, **{"train.steps": 10})`` works across sections.
    """
    nested: dict[str, dict] = {}
    direct = {}
    for key, value in changes.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[key] = value
    for head, sub in nested.items():
        direct[head] = replace(getattr(config, head), **sub)
    return dataclasses.replace(config, **direct)
