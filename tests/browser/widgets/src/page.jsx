// A verification form around one widget: the widget's state is what gets reported.
import React, { useRef } from "react";
import { createRoot } from "react-dom/client";
import { report } from "./report.js";

export function VerifyForm({ title, getCode, children, autoSubmit }) {
  const sent = useRef(false);
  const submit = (event) => {
    if (event) event.preventDefault();
    if (sent.current) return;
    sent.current = true;
    report({ code: getCode() });
  };
  if (autoSubmit) autoSubmit.current = submit;
  return (
    <form onSubmit={submit} style={{ fontFamily: "sans-serif", margin: "40px" }}>
      <h1>{title}</h1>
      <p>Enter the 6-digit code from your authenticator app.</p>
      {children}
      <p>
        <button type="submit">Verify</button>
      </p>
      <p id="result" data-state="pending"></p>
    </form>
  );
}

export function mount(element) {
  createRoot(document.getElementById("root")).render(element);
}
