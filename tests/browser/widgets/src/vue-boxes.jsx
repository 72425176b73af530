// Vue 3 controlled boxes (v-model style: the component's reactive state is the source of
// truth and re-renders each box's value), auto-advance and backspace, as Vue OTP fields do.
import { createApp, h, reactive, nextTick } from "vue";
import { report } from "./report.js";

const App = {
  setup() {
    const state = reactive({ digits: ["", "", "", "", "", ""] });
    const boxes = [];
    const onInput = (i, event) => {
      const ch = event.target.value.replace(/\D/g, "").slice(-1);
      state.digits[i] = ch;
      event.target.value = ch;
      if (ch && i < 5) nextTick(() => boxes[i + 1].focus());
    };
    const onKeydown = (i, event) => {
      if (event.key === "Backspace" && !state.digits[i] && i > 0) boxes[i - 1].focus();
    };
    const submit = (event) => {
      event.preventDefault();
      report({ code: state.digits.join("") });
    };
    return () =>
      h("form", { onSubmit: submit, style: "font-family: sans-serif; margin: 40px" }, [
        h("h1", "Two-step verification (Vue)"),
        h("label", { for: "d0" }, "Security code"),
        h(
          "div",
          { style: "display: flex; gap: 6px" },
          state.digits.map((d, i) =>
            h("input", {
              id: `d${i}`,
              ref: (el) => { boxes[i] = el; },
              value: d,
              maxlength: 1,
              inputmode: "numeric",
              style: "width: 36px; height: 44px; text-align: center",
              onInput: (e) => onInput(i, e),
              onKeydown: (e) => onKeydown(i, e),
            }),
          ),
        ),
        h("p", [h("button", { type: "submit" }, "Continue")]),
        h("p", { id: "result", "data-state": "pending" }),
      ]);
  },
};

createApp(App).mount("#root");
