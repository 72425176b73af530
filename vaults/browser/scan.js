// vaults.browser's page scan: runs in one frame (Playwright evaluate_handle) and returns
// [report, ...elements]. It reads the DOM only: no value is read or written, nothing is
// focused. `args` = {mode: "code" | "login", cues: <cues.json>, length: n | null}.
//
// report (mode "code"):  {found: {kind, count, letters, score} | null, seen: [notes]}
//                        elements: the chosen inputs in visual order
// report (mode "login"): {found: {username: bool, password: bool} | null, seen: [notes]}
//                        elements: [username?, password?]
(args) => {
  const cues = args.cues;
  const doc = document;
  const TEXTLIKE = new Set(["", "text", "tel", "number", "password", "email", "search", "url"]);

  // -- words ---------------------------------------------------------------------------
  // Latin/Greek/Cyrillic words match whole words (camelCase and snake_case split); CJK and
  // other unspaced scripts match as substrings.
  const compile = (words) => {
    const spaced = [];
    const unspaced = [];
    for (const w of words) {
      if (/^[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}0-9 .'-]+$/u.test(w)) {
        spaced.push(w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/ /g, "[\\s_-]*"));
      } else {
        unspaced.push(w);
      }
    }
    const re = spaced.length
      ? new RegExp("(?<![\\p{L}\\p{N}])(?:" + spaced.join("|") + ")(?![\\p{L}])", "iu")
      : null;
    return (text) => !!text && ((re && re.test(text)) || unspaced.some((w) => text.includes(w)));
  };
  const has = {};
  for (const [key, words] of Object.entries(cues.words)) has[key] = compile(words);
  // the code extractor's per-language code words (vaults/codes/rules), regular expressions
  const rules = [];
  for (const src of cues.rules || []) {
    try {
      rules.push(new RegExp(src, "iu"));
    } catch (e) {
      /* a pattern this browser's RegExp cannot read: skipped */
    }
  }
  const ownCode = has.code;
  has.code = (text) => !!text && (ownCode(text) || rules.some((re) => re.test(text)));
  const words = (s) =>
    (s || "")
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .replace(/[_\-.[\]]+/g, " ")
      .toLowerCase();

  // -- the DOM, through open shadow roots -------------------------------------------------
  const inputs = [];
  const walk = (root) => {
    const all = root.querySelectorAll("*");
    for (const el of all) {
      if (el.tagName === "INPUT") inputs.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(doc);

  // text nodes, not innerText (no layout pass), without scripts and styles; up to limit
  const SKIP = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"]);
  const textOf = (el, limit) => {
    if (!el) return "";
    const walker = doc.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) =>
        SKIP.has(n.parentNode && n.parentNode.nodeName)
          ? NodeFilter.FILTER_REJECT
          : NodeFilter.FILTER_ACCEPT,
    });
    let out = "";
    for (let n = walker.nextNode(); n && out.length < limit * 2; n = walker.nextNode()) {
      out += n.nodeValue + " ";
    }
    return out.replace(/\s+/g, " ").trim().slice(0, limit);
  };
  const labelText = (el) => {
    const parts = [];
    if (el.labels) for (const l of el.labels) parts.push(textOf(l, 120));
    const by = el.getAttribute("aria-labelledby");
    const root = el.getRootNode();
    if (by && root.getElementById) {
      for (const id of by.split(/\s+/)) parts.push(textOf(root.getElementById(id), 120));
    }
    if (!parts.length) {
      // an unlinked label or text just before the field
      let prev = el.previousElementSibling;
      if (!prev && el.parentElement) prev = el.parentElement.previousElementSibling;
      if (prev && /^(LABEL|SPAN|P|DIV|LEGEND|H\d|STRONG|B)$/.test(prev.tagName)) {
        const t = textOf(prev, 120);
        if (t.length <= 120) parts.push(t);
      }
    }
    return parts.join(" ");
  };
  const own = (el) =>
    [
      words(el.getAttribute("name")),
      words(el.id),
      el.getAttribute("placeholder") || "",
      el.getAttribute("aria-label") || "",
      el.getAttribute("title") || "",
    ].join(" ");
  const autocomplete = (el) => (el.getAttribute("autocomplete") || "").toLowerCase();
  const acTokens = (el) => autocomplete(el).split(/\s+/).filter(Boolean);

  // -- visibility ---------------------------------------------------------------------------
  const frameHidden = () => {
    try {
      let w = window;
      while (w.frameElement) {
        const fe = w.frameElement;
        const r = fe.getBoundingClientRect();
        if (r.width < 2 || r.height < 2) return true;
        if (fe.checkVisibility && !fe.checkVisibility({ visibilityProperty: true })) return true;
        w = w.parent;
      }
    } catch (e) {
      /* a cross-origin parent: not ours to judge */
    }
    return false;
  };
  const inFrameHidden = frameHidden();
  const docWidth = Math.max(doc.documentElement.scrollWidth, innerWidth);
  const docHeight = Math.max(doc.documentElement.scrollHeight, innerHeight);
  const hiddenReason = (el) => {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (type === "hidden" || el.hidden) return "hidden";
    if (inFrameHidden) return "in a hidden frame";
    if (el.checkVisibility && !el.checkVisibility({ visibilityProperty: true })) return "hidden";
    const r = el.getBoundingClientRect();
    if (r.width < 4 || r.height < 4) return "hidden";
    const x = r.left + scrollX;
    const y = r.top + scrollY;
    if (x + r.width <= 0 || y + r.height <= 0 || x >= docWidth || y >= docHeight) {
      return "off-screen";
    }
    // clipped away by a tiny overflow:hidden / clip ancestor, or aria-hidden (honeypots)
    let a = el.parentElement || (el.getRootNode() && el.getRootNode().host);
    for (let depth = 0; a && depth < 8; depth++) {
      if (a.getAttribute && a.getAttribute("aria-hidden") === "true") return "aria-hidden";
      const s = getComputedStyle(a);
      if (s.overflow !== "visible" || s.clip !== "auto" || s.clipPath !== "none") {
        const ar = a.getBoundingClientRect();
        if (ar.width < 4 || ar.height < 4) return "clipped";
        if (s.clipPath && /inset\(\s*(50|100)%/.test(s.clipPath)) return "clipped";
      }
      if (parseFloat(s.opacity) === 0 && r.width < 12) return "hidden";
      a = a.parentElement || (a.getRootNode && a.getRootNode().host) || null;
    }
    return "";
  };

  // -- one note per input ---------------------------------------------------------------------
  const short = (el) => {
    const type = (el.getAttribute("type") || "text").toLowerCase();
    const id = el.getAttribute("name") || el.id || "";
    return id ? `${type} "${id.slice(0, 40)}"` : type;
  };
  const seen = [];
  const noted = new Set();
  const note = (el, why) => {
    if (noted.has(el)) return;
    noted.add(el);
    if (seen.length < 12) seen.push(why ? `${short(el)} (${why})` : short(el));
  };

  const rectOf = (el) => el.getBoundingClientRect();
  const formOf = (el) => el.form || el.closest("form") || (el.getRootNode().host || null);
  const scopeOf = (el) => {
    const f = el.form || el.closest("form");
    if (f) return f;
    const host = el.getRootNode().host;
    return host ? formOf(host) || host.parentElement : doc.body;
  };
  let headings = null;
  const contexts = new Map();
  const context = (el) => {
    if (headings === null) {
      headings = [...doc.querySelectorAll("h1, h2, legend")].map((h) => textOf(h, 80)).join(" ");
    }
    const scope = scopeOf(el);
    if (!contexts.has(scope)) {
      contexts.set(scope, [textOf(scope, 300), headings, doc.title].join(" "));
    }
    return contexts.get(scope);
  };


  // ======================================================================================
  if (args.mode === "login") {
    const visible = [];
    for (const el of inputs) {
      const type = (el.getAttribute("type") || "").toLowerCase();
      if (!TEXTLIKE.has(type) || type === "search" || type === "number") continue;
      const why = hiddenReason(el) || (el.disabled ? "disabled" : el.readOnly ? "read-only" : "");
      if (why) {
        if (why !== "hidden") note(el, why);
        continue;
      }
      visible.push(el);
    }
    const isPassword = (el) => (el.getAttribute("type") || "").toLowerCase() === "password";
    const newPassword = (el) => {
      const ac = acTokens(el);
      if (ac.includes("new-password")) return true;
      if (ac.includes("current-password")) return false;
      return has.new_password(own(el)) || has.new_password(labelText(el));
    };
    // a form with two password fields, or a new-password field, is a signup or change form:
    // nothing in it is filled
    const forms = new Map();
    for (const el of visible) {
      const scope = scopeOf(el);
      if (!forms.has(scope)) forms.set(scope, []);
      forms.get(scope).push(el);
    }
    let best = null;
    for (const [scope, els] of forms) {
      const passwords = els.filter(isPassword);
      // ...and so is a form whose submit button or action says it registers
      const signup =
        scope !== doc.body &&
        ([...scope.querySelectorAll("button, input[type=submit]")].some((b) =>
          has.signup(b.value || textOf(b, 60)),
        ) ||
          has.signup(words(scope.getAttribute && scope.getAttribute("action"))));
      if (passwords.length > 1 || passwords.some(newPassword) || signup) {
        for (const el of els) note(el, "signup or password-change form");
        continue;
      }
      const password = passwords[0] || null;
      let user = null;
      let userScore = 0;
      for (const el of els) {
        if (isPassword(el)) continue;
        if (password && el.compareDocumentPosition(password) & Node.DOCUMENT_POSITION_PRECEDING) {
          continue; // a username comes before its password
        }
        const ac = acTokens(el);
        const type = (el.getAttribute("type") || "").toLowerCase();
        const text = own(el) + " " + labelText(el);
        if (ac.includes("one-time-code") || has.login_negative(text) || has.code(own(el))) {
          note(el, "not a username");
          continue;
        }
        let score = 0;
        if (ac.includes("username")) score += 10;
        if (ac.includes("email")) score += 8;
        if (type === "email") score += 6;
        if (has.username(text)) score += 6;
        if (password) score += 2;
        if (score > userScore || (score === userScore && score > 0 && password)) {
          user = el;
          userScore = score;
        }
      }
      if (!password && userScore < 6) continue;
      const score = (password ? 10 : 0) + userScore;
      if (!best || score > best.score) best = { score, user: userScore > 0 ? user : null, password };
    }
    if (!best) {
      for (const el of visible) note(el, "");
      return [{ found: null, seen }];
    }
    const els = [best.user, best.password].filter(Boolean);
    return [{ found: { username: !!best.user, password: !!best.password }, seen }, ...els];
  }

  // ======================================================================================
  // mode "code": single fields and groups of boxes
  const want = args.length || null;
  const digitsOnly = (el) => {
    const type = (el.getAttribute("type") || "").toLowerCase();
    const mode = (el.getAttribute("inputmode") || "").toLowerCase();
    const pattern = el.getAttribute("pattern") || "";
    if (type === "number" || type === "tel" || mode === "numeric" || mode === "decimal") return true;
    return /^\^?(\\d|\[0-9\]|\[\\d\])[+*{\d,}]*\$?$/.test(pattern);
  };
  const why = new Map();
  const candidates = [];
  for (const el of inputs) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (!TEXTLIKE.has(type) || type === "email" || type === "search" || type === "url") {
      continue;
    }
    const hidden = hiddenReason(el);
    if (hidden) {
      if (hidden !== "hidden" || has.code(own(el)) || acTokens(el).includes("one-time-code")) {
        note(el, hidden);
      }
      continue;
    }
    if (el.disabled) {
      note(el, "disabled");
      continue;
    }
    const ac = acTokens(el);
    const ownText = own(el);
    const label = labelText(el);
    const otc = ac.includes("one-time-code");
    if (!otc) {
      const acNegative = ac.find((t) => /^(tel|postal-code|cc-|email|username|current-password|new-password|street|address|bday|name|given-name|family-name)/.test(t));
      if (acNegative) {
        note(el, acNegative.startsWith("tel") ? "phone number" : acNegative);
        continue;
      }
      const both = ownText + " " + label;
      if (type === "password" && (!has.code(both) || has.password(both))) {
        note(el, "password");
        continue;
      }
      // the field's own attributes decide; its label only when it does not name a code
      // ("the code we sent to your phone" labels a code field)
      const labelNamesCode = has.code(label);
      const neg = ["phone", "postcode", "card", "captcha", "not_code"].find(
        (k) => has[k](ownText) || (!labelNamesCode && has[k](label)),
      );
      if (neg) {
        note(el, neg === "not_code" ? "not a login code" : neg === "phone" ? "phone number" : neg);
        continue;
      }
    }
    if (has.honeypot(ownText) || has.honeypot(label)) {
      note(el, "honeypot");
      continue;
    }
    const r = rectOf(el);
    const max = el.maxLength;
    candidates.push({ el, r, max, otc, ownText, label, letters: !digitsOnly(el), ro: el.readOnly });
  }

  // groups of boxes: narrow inputs side by side in one row, in one form
  const boxlike = (c) =>
    (c.max >= 1 && c.max <= 2) || (c.r.width <= 96 && c.r.width <= c.r.height * 1.8);
  const groups = [];
  let cur = [];
  const flush = () => {
    if (cur.length) groups.push(cur);
    cur = [];
  };
  for (const c of candidates) {
    if (!boxlike(c)) {
      flush();
      continue;
    }
    const last = cur[cur.length - 1];
    if (last) {
      const sameRow = Math.abs(last.r.top + last.r.height / 2 - (c.r.top + c.r.height / 2)) <= last.r.height / 2;
      const gap = Math.max(c.r.left - last.r.right, last.r.left - c.r.right);
      const near = gap >= -2 && gap <= Math.max(3 * last.r.width, 48);
      if (!(sameRow && near && scopeOf(last.el) === scopeOf(c.el))) flush();
    }
    cur.push(c);
  }
  flush();

  const options = [];
  const inGroup = new Set();
  for (const g of groups) {
    if (g.length < 4 || g.length > 10 || g.every((c) => c.ro)) continue;
    g.forEach((c) => inGroup.add(c));
    const text = g.map((c) => c.ownText + " " + c.label).join(" ");
    const groupLabel = (() => {
      const parent = g[0].el.parentElement;
      if (!parent) return "";
      return [parent.getAttribute("aria-label") || "", labelText(parent)].join(" ");
    })();
    let score = 6;
    if (g.some((c) => c.otc)) score += 10;
    if (has.code(text) || has.code(groupLabel)) score += 6;
    else if (has.context(context(g[0].el)) || has.code(context(g[0].el))) score += 2;
    if (want) score += g.length === want ? 3 : -10;
    const sorted = [...g].sort((a, b) => a.r.left - b.r.left);
    options.push({
      kind: "split",
      score,
      items: sorted,
      letters: g.some((c) => c.letters),
    });
  }
  for (const c of candidates) {
    if (inGroup.has(c)) continue;
    if (c.ro) {
      note(c.el, "read-only");
      continue;
    }
    let score = 0;
    if (c.otc) score += 10;
    if (has.code(c.ownText) || has.code(c.label)) score += 6;
    else if (has.context(context(c.el)) || has.code(context(c.el))) score += 2;
    const mode = (c.el.getAttribute("inputmode") || "").toLowerCase();
    if (mode === "numeric") score += 1;
    if (c.max >= 4 && c.max <= 10) score += 2;
    if (want && c.max === want) score += 1;
    if (want && c.max > 0 && c.max < want && !(c.max === 1 && c.otc)) {
      note(c.el, `maxlength ${c.max}, shorter than the code`);
      continue;
    }
    if (/\\d|0-9/.test(c.el.getAttribute("pattern") || "")) score += 2;
    if (score < 6) {
      note(c.el, "no sign of a code field");
      continue;
    }
    options.push({ kind: "single", score, items: [c], letters: c.letters });
  }
  if (!options.length) return [{ found: null, seen }];
  options.sort((a, b) => b.score - a.score);
  const best = options[0];
  return [
    {
      found: {
        kind: best.kind,
        count: best.items.length,
        letters: best.letters,
        score: best.score,
        maxlength: best.items[0].max > 0 ? best.items[0].max : null,
      },
      seen,
    },
    ...best.items.map((c) => c.el),
  ];
};
