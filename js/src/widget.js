// anywidget entry point of eagle-widget.
import { mount } from "./app.js";

export default {
  render({ model, el }) {
    return mount(model, el);
  },
};
