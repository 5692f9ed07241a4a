// The part of @jupyterlab/services that the VS Code test host needs: a kernel connection
// to a Jupyter server, as VS Code's ipywidgets renderer gets from its extension.
export { KernelManager, ServerConnection } from "@jupyterlab/services";
