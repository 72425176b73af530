// How to submit the form an input belongs to: "enter" when it sits in a <form> with a
// usable submit button (implicit submission clicks that button), else a visible, enabled
// submit-like button to click (found by its words), else "enter".
(e, words) => {
  const host = e.getRootNode().host;
  const own = e.form || e.closest("form");
  const form = own || (host && host.closest("form"));
  const parent = e.parentElement && e.parentElement.parentElement;
  const scope = form || (host ? host.parentElement : parent);
  if (!scope) return "enter";
  const usable = (b) =>
    !b.disabled &&
    b.getClientRects().length > 0 &&
    (!b.checkVisibility || b.checkVisibility({ visibilityProperty: true }));
  const typed = [
    ...scope.querySelectorAll("button[type=submit], input[type=submit], input[type=image]"),
  ];
  const plain = form ? [...form.querySelectorAll("button:not([type])")] : [];
  const first = [...typed, ...plain].find(usable);
  if (first) return own ? "enter" : first;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp("^\\s*(" + escaped.join("|") + ")(?![\\p{L}])", "iu");
  const buttons = [...scope.querySelectorAll("button, [role=button], input[type=button]")];
  return buttons.find((b) => usable(b) && re.test((b.innerText || b.value || "").trim())) || "enter";
};
