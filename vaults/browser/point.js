// Where a real mouse click on `el` lands, in the top page's viewport: its centre, scrolled
// into view, through same-origin frames; null when that cannot be told (a cross-origin
// parent frame) or when something else covers that point (then Playwright's own click, which
// waits for it, is used).
(el) => {
  let r = el.getBoundingClientRect();
  const inView = (rect, w) =>
    rect.top >= 0 && rect.left >= 0 && rect.bottom <= w.innerHeight && rect.right <= w.innerWidth;
  if (!inView(r, window)) {
    el.scrollIntoView({ block: "center", inline: "center" });
    r = el.getBoundingClientRect();
  }
  let x = r.left + r.width / 2;
  let y = r.top + r.height / 2;
  const hit = el.getRootNode().elementFromPoint(x, y);
  if (!hit || !(hit === el || el.contains(hit))) return null;
  try {
    let w = window;
    while (w.parent !== w) {
      const frame = w.frameElement;
      if (!frame) return null; // a cross-origin parent
      const fr = frame.getBoundingClientRect();
      const style = w.parent.getComputedStyle(frame);
      x += fr.left + frame.clientLeft + parseFloat(style.paddingLeft);
      y += fr.top + frame.clientTop + parseFloat(style.paddingTop);
      if (frame.getRootNode().elementFromPoint(x, y) !== frame) return null; // covered
      w = w.parent;
    }
    if (x < 0 || y < 0 || x >= w.innerWidth || y >= w.innerHeight) return null;
  } catch (_) {
    return null;
  }
  return { x, y };
};
