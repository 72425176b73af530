// Chakra UI v3 PinInput (Ark UI / zag.js pin-input machine): six boxes with otp autocomplete.
import React, { useRef, useState } from "react";
import { ChakraProvider, PinInput, defaultSystem } from "@chakra-ui/react";
import { VerifyForm, mount } from "./page.jsx";

function App() {
  const [value, setValue] = useState(["", "", "", "", "", ""]);
  const state = useRef(value);
  state.current = value;
  return (
    <ChakraProvider value={defaultSystem}>
      <VerifyForm title="Verify it's you (Chakra UI)" getCode={() => state.current.join("")}>
        <PinInput.Root otp value={value} onValueChange={(e) => setValue(e.value)}>
          <PinInput.HiddenInput name="pin" />
          <PinInput.Control>
            {[0, 1, 2, 3, 4, 5].map((i) => (
              <PinInput.Input key={i} index={i} />
            ))}
          </PinInput.Control>
        </PinInput.Root>
      </VerifyForm>
    </ChakraProvider>
  );
}

mount(<App />);
