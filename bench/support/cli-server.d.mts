// Types for cli-server.mjs, which stays plain JavaScript so children run without tsx can import it.
import type { ChildProcess } from "node:child_process"
import type { Dispatcher } from "undici"

export declare const BIN: string
export declare const benchEnv: (home: string, extra?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv
export declare const startServerProcess: (
  script: string,
  args: ReadonlyArray<string>,
  env?: NodeJS.ProcessEnv,
) => Promise<{ child: ChildProcess; url: string }>
export declare const stopServerProcess: (child: ChildProcess) => Promise<void>
export declare const startCliServer: (
  args: ReadonlyArray<string>,
  env?: NodeJS.ProcessEnv,
) => Promise<{ child: ChildProcess; url: string }>
export declare const createWorkspaceKey: (env: NodeJS.ProcessEnv, name: string) => Promise<string>
export declare const startServe: (env: NodeJS.ProcessEnv) => Promise<{ child: ChildProcess; url: string }>
export declare const postConnection: (
  url: string,
  key: string,
  dispatcher: Dispatcher,
) => Promise<{ connection: { id: string }; result: { attempts: ReadonlyArray<unknown> } }>
