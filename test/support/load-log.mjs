// Preloaded with `node --import`: registers a resolve hook that appends every module URL a process
// resolves to the file LOAD_LOG names, so a test can tell which packages a command loaded.
import { register } from "node:module"

register("./load-log-hooks.mjs", import.meta.url)
