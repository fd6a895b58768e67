/** `keyway demo` (`npm start`): validate every connector, then summarise them. */
import { EXIT } from "../exit-codes.ts"
import type { Io } from "../io.ts"
import { run as listConnectors } from "./connectors.ts"
import { run as validate } from "./validate.ts"

export const run = async (_args: ReadonlyArray<string>, io: Io): Promise<number> => {
  const validity = await validate([], io)
  if (validity !== EXIT.ok) return validity
  if (!io.json) io.out("\n")
  return listConnectors([], io)
}
