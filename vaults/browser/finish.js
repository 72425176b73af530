// fill_code, after typing: remove start.js's helper, and return what the boxes hold and (when
// asked to submit) how: "enter" (the last box is focused for it), "button" (a button to
// click; submit.js finds it again) or "taken" (the page submitted it itself). Never sees the
// code.
(first, args) => {
  const key = Symbol.for("vaults.browser.typing");
  if (window[key]) window[key]();
  const values = args.boxes.map((b) => b.value);
  if (!args.words) return { values, how: null };
  // a form submitted while typing, or boxes gone or disabled once full: the page took it
  const submitted = window[Symbol.for("vaults.browser.submitted")];
  if (submitted || args.boxes.some((b) => !b.isConnected || b.disabled)) {
    return { values, how: "taken" };
  }
  const last = args.boxes[args.boxes.length - 1];
  const target = (SUBMIT)(last, args.words);
  if (target !== "enter") return { values, how: "button" };
  if (last.getRootNode().activeElement !== last) last.focus();
  return { values, how: "enter" };
};
