// fill_code, before typing: focus (and select) the first box, and move on to the next box
// after each key where the page did not (split layouts that do not advance by themselves), so
// the whole code goes in with one keyboard.type: real key events, every box focused in turn
// as a user would. finish.js removes the helper. Never sees the code.
(first, boxes) => {
  const key = Symbol.for("vaults.browser.typing");
  if (window[key]) window[key]();
  const focus = (box) => {
    box.focus();
    try {
      box.select();
    } catch (_) {
      /* number inputs have no selection */
    }
  };
  const undo = [];
  boxes.forEach((box, i) => {
    // a box the page moves to is selected, so what it held is typed over
    const onFocus = () => box.select && box.select();
    box.addEventListener("focus", onFocus);
    undo.push(() => box.removeEventListener("focus", onFocus));
    if (i + 1 >= boxes.length) return;
    const onKeyup = () => {
      if (box.getRootNode().activeElement === box && box.value !== "") focus(boxes[i + 1]);
    };
    box.addEventListener("keyup", onKeyup);
    undo.push(() => box.removeEventListener("keyup", onKeyup));
  });
  // a page that submits by itself once the code is complete (onComplete → requestSubmit)
  const submitted = Symbol.for("vaults.browser.submitted");
  delete window[submitted];
  const onSubmit = () => {
    window[submitted] = true;
  };
  const targets = new Set([document, ...boxes.map((b) => b.form).filter(Boolean)]);
  targets.forEach((t) => t.addEventListener("submit", onSubmit, true));
  undo.push(() => targets.forEach((t) => t.removeEventListener("submit", onSubmit, true)));
  window[key] = () => {
    undo.forEach((f) => f());
    delete window[key];
  };
  focus(first);
};
