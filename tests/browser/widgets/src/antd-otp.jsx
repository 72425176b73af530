// Ant Design v6 Input.OTP: six inputs, value reported through onChange once complete.
import React, { useRef } from "react";
import { Input } from "antd";
import { VerifyForm, mount } from "./page.jsx";

function App() {
  const state = useRef("");
  return (
    <VerifyForm title="Security verification (Ant Design)" getCode={() => state.current}>
      <Input.OTP length={6} onChange={(text) => { state.current = text; }} />
    </VerifyForm>
  );
}

mount(<App />);
