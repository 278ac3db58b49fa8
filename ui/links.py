"""A link that restores the view: the page's settings live in the URL's query parameters.

Each setting is a widget with a key; a page wraps that key in :func:`link` where it draws the
widget::

    layer = st.selectbox("Conv layer", names, key=link("f_layer", choices=names))

:func:`link` does two things, before the widget is drawn:

- **restore**: when the URL carries ``?f_layer=...`` and this session has no value for the widget
  yet (a fresh tab, F5, a teacher's link opened by a student), the URL's value becomes the
  widget's value, if it is valid here (one of ``choices``, inside ``bounds``, ...). A value that is
  not (a layer of another model, a deleted run) gives a short notice and the widget's default.
- **mirror**: otherwise the widget's current value is written to the URL, so the address bar
  always holds the view; a widget at its default has no parameter.

The active model travels as ``?model=`` (:func:`model_link`, resolved by :func:`restore_model`):
``pretrained:<architecture>[:<weights>]`` or ``checkpoint:<folder name>`` (a saved run or a
shipped checkpoint, looked up among the listed ones, never opened as a path). Uploaded files and
models built from an upload cannot travel in a link; the page says so.

Streamlit's ``st.query_params`` is the URL (https://docs.streamlit.io/develop/api-reference/caching-and-state/st.query_params);
nothing here writes to the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from playground.bundle.runs import RUN_CHECKPOINT, checkpoint_folders, list_checkpoints
from playground.models import MODELS

MODEL_PARAM = "model"
MAX_TEXT_CHARS = 2_000  # longer typed text is not put in the URL (browsers cut URLs near 8 k characters)
_NOTICES = "_link_notices"  # session-state key: notices already shown (each once per session)
_PAGE_LINKS = "_page_links"  # session-state key: the keys linked while the page runs (presentation's pins)


def encode(value: object) -> str:
    """A widget value as it is written in the URL: ``True`` -> ``"1"``, ``0.001`` -> ``"0.001"``, a
    list as JSON; anything else by ``str``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return json.dumps(list(value))
    return str(value)


def decode(
    text: str,
    *,
    choices: Sequence[object] | None = None,
    bounds: tuple[float, float] | None = None,
    kind: type = str,
) -> Any:
    """The widget value a URL parameter stands for, checked against what the widget accepts here.

    Args:
        text: the parameter's value as the URL has it.
        choices: the widget's options; the value is the option whose :func:`encode` is ``text``.
        bounds: ``(min, max)`` of a number widget (``kind`` ``int`` or ``float``), both included.
        kind: ``str``, ``bool``, ``int``, ``float`` or ``list`` (a multiselect's options, each in
            ``choices`` when given).

    Returns:
        The value, of the widget's type.

    Raises:
        ValueError: ``text`` is not a valid value for this widget; the message says why.
    """
    if kind is list:
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("is not a list") from None
        if not isinstance(items, list):
            raise ValueError("is not a list")
        if choices is not None:
            by_text = {encode(c): c for c in choices}
            unknown = [i for i in items if encode(i) not in by_text]
            if unknown:
                raise ValueError(f"has {', '.join(map(str, unknown))}, which this page does not offer")
            return [by_text[encode(i)] for i in items]
        return items
    if choices is not None:
        for option in choices:
            if encode(option) == text:
                return option
        raise ValueError("is not one of the choices this page offers now")
    if kind is bool:
        if text not in ("0", "1"):
            raise ValueError("is not 0 or 1")
        return text == "1"
    if kind is int or kind is float:
        try:
            number: float = int(text) if kind is int else float(text)
        except ValueError:
            raise ValueError(f"is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(number):
            raise ValueError("is not a finite number")
        if bounds is not None and not bounds[0] <= number <= bounds[1]:
            raise ValueError(f"is outside {bounds[0]:g}–{bounds[1]:g}")
        return number
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"is longer than {MAX_TEXT_CHARS:,} characters")
    return text


def notice(message: str) -> None:
    """A short notice about the link, shown once per session (a toast: the page is drawn anyway)."""
    shown: set[str] = st.session_state.setdefault(_NOTICES, set())
    if message not in shown:
        shown.add(message)
        st.toast(message, icon=":material/link_off:")


def _set_param(name: str, text: str | None) -> None:
    """Write (or, with ``None``, remove) one URL parameter, only when it changes."""
    if text is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != text:
        st.query_params[name] = text


def link(
    key: str,
    *,
    choices: Sequence[object] | None = None,
    bounds: tuple[float, float] | None = None,
    kind: type = str,
    default: object = None,
    unlinked: Sequence[object] = (),
) -> str:
    """Tie the widget ``key`` to the URL parameter of the same name; returns ``key`` for ``key=``.

    Call it as the widget's ``key=`` argument, so it runs just before the widget is drawn (see the
    module docstring for what it restores and mirrors). ``choices``, ``bounds`` and ``kind`` are
    what the widget accepts (:func:`decode`); a value of the URL that it does not accept gives a
    notice, never an exception. ``default``: the widget's default value; a value equal to it is
    not written to the URL (shorter links). ``unlinked``: values that cannot travel in a link (an
    "Upload" choice: the file stays on this machine); at one of them the URL has no parameter, so
    the link opens the widget's default (a sample).
    """
    if key not in st.session_state:
        restore(key, choices=choices, bounds=bounds, kind=kind)
    else:
        mirror(key, default=default, unlinked=unlinked)
    page_links = st.session_state.get(_PAGE_LINKS)
    if page_links is not None and key not in page_links:
        page_links.append(key)
    return key


def start_page_links() -> list[str]:
    """Record the keys :func:`link` ties while the page runs (app.py calls it just before the page);
    returns the record, filled in drawing order. :func:`stop_page_links` ends it."""
    keys: list[str] = []
    st.session_state[_PAGE_LINKS] = keys
    return keys


def stop_page_links() -> None:
    """End the record: the sidebar's own settings, drawn before the page, are not the page's controls."""
    st.session_state.pop(_PAGE_LINKS, None)


def restore(
    key: str, *, choices: Sequence[object] | None = None, bounds: tuple[float, float] | None = None, kind: type = str
) -> bool:
    """Set ``st.session_state[key]`` from the URL's parameter ``key`` when there is a valid one.

    Returns:
        Whether a value was set. An invalid one gives a notice, leaves the state as it was and
        drops the parameter.
    """
    text = st.query_params.get(key)
    if text is None:
        return False
    try:
        st.session_state[key] = decode(text, choices=choices, bounds=bounds, kind=kind)
    except ValueError as exc:
        shown = text if len(text) <= 40 else text[:40] + "…"
        notice(f"The link's {key}={shown!r} {exc}: the default is used.")
        _set_param(key, None)
        return False
    return True


def mirror(key: str, *, default: object = None, unlinked: Sequence[object] = ()) -> None:
    """Write ``st.session_state[key]`` to the URL (no parameter at ``default``, at a value in
    ``unlinked``, at ``None`` or for text over :data:`MAX_TEXT_CHARS`)."""
    value = st.session_state.get(key)
    at_default = default is not None and value == default
    too_long = isinstance(value, str) and len(value) > MAX_TEXT_CHARS
    _set_param(key, None if at_default or too_long or value is None or value in unlinked else encode(value))


# -- the active model ----------------------------------------------------------------------------


def checkpoint_name(path: object) -> str:
    """The name a checkpoint folder goes by in a link: a run folder's name for ``<run>/checkpoint``."""
    folder = Path(str(path))
    return folder.parent.name if folder.name == RUN_CHECKPOINT else folder.name


def model_link(kind: str, name: str, weights: str | None = None) -> str:
    """``model_link("pretrained", "resnet18", "IMAGENET1K_V1")`` -> ``"pretrained:resnet18:IMAGENET1K_V1"``;
    ``model_link("checkpoint", "lenet5-mnist")`` -> ``"checkpoint:lenet5-mnist"``."""
    return f"{kind}:{name}" if weights is None else f"{kind}:{name}:{weights}"


def resolve_model(text: str) -> tuple[str, str, str | None]:
    """What a ``model=`` parameter asks for: ``("pretrained", architecture, weights or None)`` or
    ``("checkpoint", path of the checkpoint folder, None)``.

    Raises:
        ValueError: an unknown kind, an architecture the registry does not have, or a checkpoint
            name not among the saved runs and shipped checkpoints (e.g. a deleted run).
    """
    kind, _, rest = text.partition(":")
    if kind == "pretrained":
        name, _, weights = rest.partition(":")
        if name not in MODELS.names():
            raise ValueError(f"there is no model {name!r} here")
        return kind, name, weights or None
    if kind == "checkpoint":
        for info in list_checkpoints(checkpoint_folders()):
            if checkpoint_name(info.path) == rest:
                return kind, str(info.path), None
        raise ValueError(f"there is no saved run or shipped checkpoint {rest!r} here (deleted?)")
    raise ValueError("a link names a model as pretrained:<architecture> or checkpoint:<saved run>")


def write_model_param(model_link_text: str | None) -> None:
    """Put the active model in the URL (``None``: a model that cannot travel in a link)."""
    _set_param(MODEL_PARAM, model_link_text)


def share_url(page_path: str) -> str | None:
    """The link to this view: the app's address in the browser, the page's path and the current
    query parameters (``None`` when the browser's address is not known, e.g. in tests)."""
    base = st.context.url
    if not base:
        return None
    parts = urlsplit(base)
    query = urlencode(st.query_params.to_dict())
    return urlunsplit((parts.scheme, parts.netloc, "/" + page_path.strip("/"), query, ""))


def share_box(page_path: str) -> None:
    """The sidebar's "Share this view": the link in a code box (its copy button copies it)."""
    url = share_url(page_path)
    if url is None:
        return
    with st.popover("Share this view", icon=":material/link:", width="stretch"):
        st.code(url, language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button at the box's corner (or from the address bar: it holds the same link). "
            "Whoever opens it sees this model, input and settings; uploaded files stay on this machine."
        )
