// Hand-written code pages: on submit, send the fields the page names to the test server,
// which checks the code (and that fields meant to stay untouched are empty); show its answer.
(function () {
  const sid = new URLSearchParams(location.search).get("sid") || "";
  function show(answer, next) {
    const out = document.getElementById("result");
    out.textContent = answer.accepted ? "accepted" : "rejected: " + answer.reason;
    out.dataset.state = answer.accepted ? "accepted" : "rejected";
    if (answer.accepted && next) location.href = next + "?sid=" + encodeURIComponent(sid);
  }
  // next: where an accepted code takes the user (a signed-in page), if anywhere
  window.vaultsPage = function (form, collect, next) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch("/check?sid=" + encodeURIComponent(sid), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(collect()),
      })
        .then((r) => r.json())
        .then((answer) => show(answer, next));
    });
  };
  // Boxes that move on to the next box after a character and back on Backspace.
  window.autoAdvance = function (boxes, options) {
    const accept = (options && options.accept) || /[0-9]/;
    boxes.forEach(function (box, i) {
      box.addEventListener("input", function () {
        const chars = box.value.split("").filter((c) => accept.test(c));
        if (chars.length > 1 && options && options.distribute) {
          chars.forEach((c, k) => { if (boxes[i + k]) boxes[i + k].value = c; });
          boxes[Math.min(i + chars.length, boxes.length - 1)].focus();
          return;
        }
        box.value = chars.length ? chars[chars.length - 1] : "";
        if (options && options.upper) box.value = box.value.toUpperCase();
        if (box.value && boxes[i + 1]) boxes[i + 1].focus();
      });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Backspace" && !box.value && boxes[i - 1]) boxes[i - 1].focus();
      });
    });
  };
  window.joined = function (boxes) {
    return boxes.map((b) => b.value).join("");
  };
})();
