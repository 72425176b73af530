// shadcn/ui's OTP field: input-otp's single transparent <input> over six drawn slots.
import React, { useRef, useState } from "react";
import { OTPInput, REGEXP_ONLY_DIGITS } from "input-otp";
import { VerifyForm, mount } from "./page.jsx";

const slot = {
  width: 40, height: 48, border: "1px solid #999", display: "flex",
  alignItems: "center", justifyContent: "center", fontSize: 24,
};

function App() {
  const [value, setValue] = useState("");
  const state = useRef(value);
  state.current = value;
  return (
    <VerifyForm title="Two-factor authentication (input-otp)" getCode={() => state.current}>
      <OTPInput
        maxLength={6}
        pattern={REGEXP_ONLY_DIGITS}
        value={value}
        onChange={setValue}
        containerClassName="otp-group"
        render={({ slots }) => (
          <div style={{ display: "flex", gap: 8 }}>
            {slots.map((s, i) => (
              <div key={i} style={slot}>{s.char ?? ""}</div>
            ))}
          </div>
        )}
      />
    </VerifyForm>
  );
}

mount(<App />);
