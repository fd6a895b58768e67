#!/usr/bin/env node
// Keyway's CLI entry. The sources are TypeScript, loaded through tsx's ESM hooks.
import { register } from "tsx/esm/api"

register()
await import("../runner/cli/main.ts")
