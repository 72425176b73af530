// react-otp-input v3: controlled boxes with a separator, numeric keyboard.
import React, { useRef, useState } from "react";
import OtpInput from "react-otp-input";
import { VerifyForm, mount } from "./page.jsx";

function App() {
  const [otp, setOtp] = useState("");
  const state = useRef(otp);
  state.current = otp;
  return (
    <VerifyForm title="Enter verification code (react-otp-input)" getCode={() => state.current}>
      <OtpInput
        value={otp}
        onChange={setOtp}
        numInputs={6}
        inputType="tel"
        renderSeparator={<span style={{ width: 8 }}>-</span>}
        renderInput={(props) => <input {...props} style={{ width: 36, height: 44 }} />}
      />
    </VerifyForm>
  );
}

mount(<App />);
