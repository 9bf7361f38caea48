"""keyword-push-py: the keyword-push plugin written in Python, built into a component with
componentize-py against plugin-sdk/wit (livecart:plugin@0.1.0).

Config, matching and cooldown are those of plugins/keyword-push (Rust):
{"rules":[{"product":"sku-tee","keywords":["尺码","size"],"style":"compact"}],
 "cooldown_ms":30000,"duration_ms":8000}
ASCII letters match case-insensitively; a keyword whose first (last) character is a Latin
letter or digit matches only at a word boundary there; CJK keywords match as substrings.
The first matching rule wins, one push per comment, each product at most once per cooldown
of event server time (the last push is kept in the KV key `last:<product>`). An invalid
config is refused when the merchant enables the plugin: the host sends a throwaway instance
a `config-changed` event, and the error raised here is the message the merchant sees.
"""

import json
from dataclasses import dataclass
from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, kv, types

DEFAULT_COOLDOWN_MS = 30000
DEFAULT_DURATION_MS = 8000
U32_MAX = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class InvalidConfig(ValueError):
    """A config the plugin cannot use; the message is shown to the merchant."""


@dataclass
class Rule:
    product: str
    keywords: List[str]  # ASCII-lowercased once, at configure time
    style: Optional[str]
    key: str  # `last:<product>`, the KV key of the last push time


@dataclass
class Settings:
    rules: List[Rule]
    cooldown_ms: int
    duration_ms: int


def ascii_lower(text: str) -> str:
    return text.translate(_UPPER)


def _word(c: str) -> bool:
    return c.isascii() and c.isalnum()


def mentions(text: str, keyword: str) -> bool:
    """Whether `text` holds `keyword`, on a word boundary wherever the keyword's edge is a
    Latin letter or digit. Occurrences are tried left to right without overlapping."""
    glued_start, glued_end = _word(keyword[0]), _word(keyword[-1])
    at = text.find(keyword)
    while at != -1:
        end = at + len(keyword)
        glued = (glued_start and at > 0 and _word(text[at - 1])) or (
            glued_end and end < len(text) and _word(text[end])
        )
        if not glued:
            return True
        at = text.find(keyword, end)
    return False


def _integer(raw: dict, name: str, default: int, top: int) -> int:
    value = raw.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
        raise InvalidConfig(f"`{name}` must be an integer from 0 to {top}")
    return value


def parse_config(text: str) -> Settings:
    """Parse and check the merchant's config, or raise with the reason."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise InvalidConfig(f"not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidConfig("the config must be a JSON object")
    if not isinstance(raw.get("rules"), list):
        raise InvalidConfig("missing field `rules` (a list of rules)")
    if not raw["rules"]:
        raise InvalidConfig("`rules` must list at least one rule")
    rules = []
    for r in raw["rules"]:
        product = r.get("product") if isinstance(r, dict) else None
        if not isinstance(product, str) or not product.strip():
            raise InvalidConfig("every rule needs a non-empty `product`")
        keywords = r.get("keywords")
        if (
            not isinstance(keywords, list)
            or not keywords
            or not all(isinstance(k, str) and k.strip() for k in keywords)
        ):
            raise InvalidConfig(
                f"rule for {json.dumps(product, ensure_ascii=False)} needs at least one keyword, none empty"
            )
        style = r.get("style")
        if style is not None and not isinstance(style, str):
            raise InvalidConfig(f"rule for {product!r}: `style` must be a string")
        rules.append(Rule(product, [ascii_lower(k) for k in keywords], style, f"last:{product}"))
    return Settings(
        rules,
        _integer(raw, "cooldown_ms", DEFAULT_COOLDOWN_MS, U64_MAX),
        _integer(raw, "duration_ms", DEFAULT_DURATION_MS, U32_MAX),
    )


def matching_rule(rules: List[Rule], text: str) -> Optional[Rule]:
    """The first rule with a keyword in `text`. Pure: no host calls."""
    lower = ascii_lower(text)
    for rule in rules:
        if any(mentions(lower, k) for k in rule.keywords):
            return rule
    return None


# The parsed config; None until the first event, and again after `config-changed`.
_settings: Optional[Settings] = None


def _on_comment(s: Settings, event: types.Event, comment: types.Comment, out: list) -> None:
    rule = matching_rule(s.rules, comment.text)
    if rule is None:
        return  # the hot path makes no host call
    now = event.server_time_ms
    stored = kv.get(rule.key)
    if stored is not None:
        try:
            last = int(stored.decode("ascii"))
        except ValueError:
            last = None
        if last is not None and now - last < s.cooldown_ms:
            return
    kv.set(rule.key, str(now).encode("ascii"))
    out.append(types.Action_PushProduct(types.PushProduct(rule.product, rule.style, s.duration_ms)))


class Guest(exports.Guest):
    def describe(self) -> types.Manifest:
        return types.Manifest(
            name="keyword-push-py",
            version="0.1.0",
            description="Pushes a product card when a comment mentions one of its keywords (Python).",
            capabilities=[types.Capability.PRODUCT_PUSH, types.Capability.KV],
            events=[types.EventKind.COMMENT],
        )

    def handle(self, events: List[types.Event]) -> List[types.Action]:
        """Raising `Err(message)` is the `err` of the WIT result: a fault of the batch."""
        global _settings
        actions: list = []
        for event in events:
            if isinstance(event.body, types.EventBody_ConfigChanged):
                _settings = None
            if _settings is None:
                try:
                    _settings = parse_config(config.get())
                except InvalidConfig as e:
                    raise Err(f"configure: invalid config: {e}")
            if isinstance(event.body, types.EventBody_Comment):
                _on_comment(_settings, event, event.body.value, actions)
        return actions
