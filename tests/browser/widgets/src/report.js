// Shared by every widget page: send what the widget's own state holds to the test server,
// which checks it against the code it expects for this session, and show the answer.
export function report(fields) {
  const sid = new URLSearchParams(location.search).get("sid") || "";
  const out = document.getElementById("result");
  return fetch(`/check?sid=${encodeURIComponent(sid)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fields),
  })
    .then((r) => r.json())
    .then((answer) => {
      out.textContent = answer.accepted ? "accepted" : `rejected: ${answer.reason}`;
      out.dataset.state = answer.accepted ? "accepted" : "rejected";
    });
}
