// anywidget entry point of eagle-widget.
import { mount } from "./app.js";
import { MSG } from "./protocol.js";

export default {
  render({ model, el }) {
    // the kernel must not refresh the output of a live view: hosts re-create the view then
    model.send({ type: MSG.VIEW });
    return mount(model, el);
  },
};
