// fill_code, after typing: remove start.js's helper, and return what the boxes hold and (when
// asked to submit) how: "enter" (the last box is focused for it) or "button" (a button to
// click; submit.js finds it again). Never sees the code.
(first, args) => {
  const key = Symbol.for("vaults.browser.typing");
  if (window[key]) window[key]();
  const values = args.boxes.map((b) => b.value);
  if (!args.words) return { values, how: null };
  const last = args.boxes[args.boxes.length - 1];
  const target = (SUBMIT)(last, args.words);
  if (target !== "enter") return { values, how: "button" };
  if (last.getRootNode().activeElement !== last) last.focus();
  return { values, how: "enter" };
};
