// keyword-push-js: the keyword-push plugin written in JavaScript, built into a component
// with jco's QuickJS backend against plugin-sdk/wit (livecart:plugin@0.1.0).
//
// Config, matching and cooldown are those of plugins/keyword-push (Rust):
// {"rules":[{"product":"sku-tee","keywords":["尺码","size"],"style":"compact"}],
//  "cooldown_ms":30000,"duration_ms":8000}
// ASCII letters match case-insensitively; a keyword whose first (last) character is a Latin
// letter or digit matches only at a word boundary there; CJK keywords match as substrings.
// The first matching rule wins, one push per comment, each product at most once per
// cooldown of event server time (the last push is kept in the KV key `last:<product>`).
// An invalid config is refused when the merchant enables the plugin: the host sends a
// throwaway instance a `config-changed` event, and the error returned here is the message.

import * as config from "livecart:plugin/config@0.1.0";
import * as kv from "livecart:plugin/kv@0.1.0";

const DEFAULT_COOLDOWN_MS = 30000;
const DEFAULT_DURATION_MS = 8000;

// The parsed config; null until the first event (and again after `config-changed`).
let settings = null;

function asciiLower(text) {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function isWordChar(c) {
  return c !== undefined && /^[A-Za-z0-9]$/.test(c);
}

// Whether `text` contains `keyword`, on a word boundary where the keyword's edge is a Latin
// letter or digit. Occurrences are tried left to right without overlapping.
export function mentions(text, keyword) {
  const gluedStart = isWordChar(keyword[0]);
  const gluedEnd = isWordChar(keyword[keyword.length - 1]);
  let at = text.indexOf(keyword);
  while (at !== -1) {
    const end = at + keyword.length;
    const glued = (gluedStart && isWordChar(text[at - 1])) || (gluedEnd && isWordChar(text[end]));
    if (!glued) return true;
    at = text.indexOf(keyword, end);
  }
  return false;
}

function invalid(message) {
  return new Error(`invalid config: ${message}`);
}

function nonNegativeInteger(value, name, fallback, max) {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw invalid(`\`${name}\` must be an integer from 0 to ${max}`);
  }
  return value;
}

// Parse and check the merchant's config; throws with the message the merchant sees.
export function parseConfig(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`not JSON: ${e.message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw invalid("the config must be a JSON object");
  }
  if (!Array.isArray(raw.rules)) throw invalid("missing field `rules` (a list of rules)");
  if (raw.rules.length === 0) throw invalid("`rules` must list at least one rule");
  const rules = raw.rules.map((r) => {
    if (r === null || typeof r !== "object" || typeof r.product !== "string" || r.product.trim() === "") {
      throw invalid("every rule needs a non-empty `product`");
    }
    const ok = Array.isArray(r.keywords) && r.keywords.length > 0 &&
      r.keywords.every((k) => typeof k === "string" && k.trim() !== "");
    if (!ok) {
      throw invalid(`rule for ${JSON.stringify(r.product)} needs at least one keyword, none empty`);
    }
    if (r.style !== undefined && r.style !== null && typeof r.style !== "string") {
      throw invalid(`rule for ${JSON.stringify(r.product)}: \`style\` must be a string`);
    }
    return {
      product: r.product,
      keywords: r.keywords.map(asciiLower),
      style: typeof r.style === "string" ? r.style : null,
      key: `last:${r.product}`,
    };
  });
  return {
    rules,
    cooldownMs: nonNegativeInteger(raw.cooldown_ms, "cooldown_ms", DEFAULT_COOLDOWN_MS, Number.MAX_SAFE_INTEGER),
    durationMs: nonNegativeInteger(raw.duration_ms, "duration_ms", DEFAULT_DURATION_MS, 0xffffffff),
  };
}

// The first rule with a keyword in `text`, or undefined.
export function matchingRule(rules, text) {
  const lower = asciiLower(text);
  return rules.find((r) => r.keywords.some((k) => mentions(lower, k)));
}

// KV values are the last push time as ASCII decimal digits (QuickJS has no TextEncoder).
function encodeTime(ms) {
  return Uint8Array.from(String(ms), (c) => c.charCodeAt(0));
}

function decodeTime(bytes) {
  return Number(String.fromCharCode(...bytes));
}

function onComment(event, comment, actions) {
  const rule = matchingRule(settings.rules, comment.text);
  if (rule === undefined) return; // The hot path makes no host call.
  const now = event.serverTimeMs;
  const stored = kv.get(rule.key);
  if (stored !== null && stored !== undefined) {
    const last = decodeTime(stored);
    if (Number.isFinite(last) && now - last < settings.cooldownMs) return;
  }
  kv.set(rule.key, encodeTime(now));
  actions.push({
    tag: "push-product",
    val: { productId: rule.product, style: rule.style, durationMs: settings.durationMs },
  });
}

export const guest = {
  describe() {
    return {
      name: "keyword-push-js",
      version: "0.1.0",
      description: "Pushes a product card when a comment mentions one of its keywords (JavaScript).",
      capabilities: ["product-push", "kv"],
      events: ["comment"],
    };
  },

  // A thrown error is the `err` of `result<list<action>, string>`: a fault of the batch.
  handle(events) {
    const actions = [];
    for (const event of events) {
      if (event.body.tag === "config-changed") settings = null;
      if (settings === null) {
        try {
          settings = parseConfig(config.get());
        } catch (e) {
          throw `configure: ${e.message}`;
        }
      }
      if (event.body.tag === "comment") onComment(event, event.body.val, actions);
    }
    return actions;
  },
};
