/**
 * Where the fleet's Redis is, from the environment. Apart from the queues on purpose: a command
 * asks this first, and loads BullMQ only when there is a Redis to use.
 */

/** The Redis URL the fleet uses (`KEYWAY_REDIS`, or `KEYWAY_STORE` when that is Redis), or undefined. */
export const fleetRedisUrl = (env: NodeJS.ProcessEnv): string | undefined =>
  env.KEYWAY_REDIS || (env.KEYWAY_STORE?.startsWith("redis") ? env.KEYWAY_STORE : undefined)
