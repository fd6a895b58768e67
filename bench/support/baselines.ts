/** The clients users would pick instead of Keyway, configured as a typical integration would be. */
import axios, { type AxiosInstance } from "axios"
import axiosRetry from "axios-retry"

/** axios with axios-retry: exponential backoff, retrying network errors and 429s. */
export const typicalAxios = (): AxiosInstance => {
  const client = axios.create({ timeout: 15_000, validateStatus: () => true })
  axiosRetry(client, {
    retries: 5,
    retryDelay: axiosRetry.exponentialDelay,
    retryCondition: (error) => axiosRetry.isNetworkOrIdempotentRequestError(error) || error.response?.status === 429,
  })
  // validateStatus accepts everything, so turn 429 back into an error for axios-retry to see it.
  client.interceptors.response.use((response) =>
    response.status === 429
      ? Promise.reject(Object.assign(new Error("429"), { response, config: response.config, isAxiosError: true }))
      : response,
  )
  return client
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The Nango-style fixed backoff: 3 s × 2^n after each consecutive 429, no jitter. */
export const fixedBackoffMs = (consecutive429s: number) => 3000 * 2 ** consecutive429s
