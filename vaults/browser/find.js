// fill_code's scan of one frame: scan.js in "code" mode, but the inputs it chose stay in the
// frame (window[Symbol.for("vaults.browser.boxes")]) for the calls that follow — start, finish,
// paste — instead of coming back as element handles (each handle makes Playwright inject its
// own script into the page first: tens of milliseconds before the first key). With
// `args.start` (the last frame searched, no code entry in the frames before it) start.js
// runs at once, when the boxes fit the code.
// Returns scan.js's report (`found.started`: whether start.js ran). Never sees the code.
(args) => {
  const [report, ...boxes] = (SCAN)(args);
  const key = Symbol.for("vaults.browser.boxes");
  delete window[key];
  if (!report.found) return report;
  report.found.started = false;
  window[key] = boxes;
  if (args.start && (report.found.kind === "single" || boxes.length === args.length)) {
    (START)(boxes[0], boxes);
    report.found.started = true;
  }
  return report;
};
