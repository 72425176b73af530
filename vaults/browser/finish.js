// fill_code, after typing: remove start.js's helper, and return what the boxes find.js kept
// hold and (when asked to submit) how: "enter" (the last box is focused for it), "button" (a
// button to click, with `point`: its centre in the page's viewport, scrolled into view and
// checked to be what a click there hits; null when that cannot be told) or "taken" (the page
// submitted it itself). null in another document (the page navigated). Boxes not yet holding
// `args.length` characters are read again after the page's next frame and timers (pages that
// update them a moment later). Never sees the code.
async (args) => {
  const boxes = window[Symbol.for("vaults.browser.boxes")];
  if (!boxes) return null; // another document: the page navigated
  const key = Symbol.for("vaults.browser.typing");
  if (window[key]) window[key]();
  const read = () => boxes.map((b) => b.value);
  const size = (values) => values.join("").replace(/[\s-]/g, "").length;
  let values = read();
  if (size(values) !== args.length) {
    await new Promise((resolve) => {
      let done = false;
      const next = () => {
        if (!done) setTimeout(resolve, 0);
        done = true;
      };
      requestAnimationFrame(next);
      setTimeout(next, 50); // no frames in a hidden page
    });
    values = read();
  }
  if (!args.submit) return { values, how: null, point: null };
  // a form submitted while typing, or boxes gone or disabled once full: the page took it
  const submitted = window[Symbol.for("vaults.browser.submitted")];
  if (submitted || boxes.some((b) => !b.isConnected || b.disabled)) {
    return { values, how: "taken", point: null };
  }
  const last = boxes[boxes.length - 1];
  const target = (SUBMIT)(last, (WORDS));
  if (target !== "enter") return { values, how: "button", point: (POINT)(target) };
  if (last.getRootNode().activeElement !== last) last.focus();
  return { values, how: "enter", point: null };
};
