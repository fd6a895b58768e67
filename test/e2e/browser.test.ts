/**
 * The connect form and `/connect.js` in a real browser: Debian's Chromium, driven by playwright-core,
 * against `keyway serve --sandbox` started as a user starts it. Every check goes to the sandbox's
 * fakes; all traffic stays on 127.0.0.1.
 *
 * - each connector's form: a valid key connects and saves, a wrong key shows the vendor's message and
 *   remediation and saves nothing, a throttled key is waited for and connects, a malformed key is
 *   caught in the browser before anything is sent;
 * - the form completed with the keyboard alone;
 * - axe-core finds no serious or critical violation on any connector's form;
 * - a screenshot of each form, in test/artifacts/;
 * - `/connect.js` on a host page: ready, connect, error and close reach the session's origin, and a
 *   page on any other origin can neither frame the form nor hear from it.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BIN, keyway } from "../support/cli.ts"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
const AXE = new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname
const ARTIFACTS = new URL("../artifacts/", import.meta.url).pathname

/** Each connector's form: which credential carries the sandbox's scenario, what else it needs, how to get its format wrong. */
interface ConnectorCase {
  readonly id: string
  readonly name: string
  /** The credential whose value names the sandbox scenario. */
  readonly scenario: string
  /** Other credentials, filled with a key the sandbox accepts. */
  readonly others: ReadonlyArray<string>
  /** A non-secret field to change before a failed test: it must keep what was typed. */
  readonly setting?: { readonly key: string; readonly value: string; readonly select: boolean }
  /** A value the credential's format refuses, and the problem the form shows for it. */
  readonly malformed: { readonly value: string; readonly problem: string }
}

const CONNECTORS: ReadonlyArray<ConnectorCase> = [
  {
    id: "activtrak",
    name: "ActivTrak",
    scenario: "apiKey",
    others: [],
    setting: { key: "region", value: "eu", select: true },
    // pattern ^[A-Za-z0-9._-]+$
    malformed: { value: "sandbox+valid", problem: "This does not look like the expected format." },
  },
  {
    id: "activityinfo",
    name: "ActivityInfo",
    scenario: "apiToken",
    others: [],
    setting: { key: "serverUrl", value: "https://activityinfo.example.org", select: false },
    // minLength 8
    malformed: { value: "short", problem: "Too short: at least 8 characters." },
  },
  {
    id: "peopletray",
    name: "PeopleTray",
    scenario: "apiKey",
    others: [],
    // noWhitespace
    malformed: { value: "sandbox valid", problem: "Remove the spaces: copy the value without them." },
  },
  {
    id: "trackvia",
    name: "TrackVia",
    scenario: "authToken",
    others: ["apiKey"],
    setting: { key: "subdomain", value: "acme", select: false },
    // noWhitespace: a trailing space, as a careless copy leaves
    malformed: { value: "sandbox-valid ", problem: "Remove the spaces: copy the value without them." },
  },
]

const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

/** What `/v1/connections` answers, as far as these tests read it. */
interface Connection {
  readonly id: string
  readonly connector: string
  readonly settings: Record<string, string>
  readonly endUser?: { readonly id: string }
}

/** What the form's script receives from a submit. */
interface FormAnswer {
  readonly ok: boolean
  readonly connectionId?: string
  readonly code?: string
  readonly message?: string
  readonly remediation?: string
  readonly problems: Record<string, string>
}

/** A Keyway.connect event, or a message the host page received. */
interface KeywayEvent {
  readonly type: string
  readonly connectionId?: string
  readonly code?: string
  readonly message?: string
}
interface Received {
  readonly origin: string
  readonly data: unknown
}

/** The host page's globals, set by its inline script (see `hostPage`). */
interface HostWindow {
  start: (token: string, mode: "iframe" | "popup") => void
  events: KeywayEvent[]
  received: Received[]
  result: Promise<{ type: string; connectionId?: string }>
}

/** A tiny host application's page: loads Keyway's `/connect.js` and records every event and every message. */
const hostPage = (keywayUrl: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Host application</title>
<script src="${keywayUrl}/connect.js"></script>
<script>
  window.events = [];
  window.received = [];
  window.addEventListener("message", (event) => {
    window.received.push({ origin: event.origin, data: event.data });
  });
  window.start = (token, mode) => {
    window.result = Keyway.connect({ token, mode, onEvent: (e) => window.events.push(e) });
  };
</script>
</head>
<body><main><h1>Host application</h1></main></body>
</html>
`

const startHost = (keywayUrl: string) =>
  new Promise<{ server: Server; origin: string }>((resolve) => {
    const server = createServer((request, response) => {
      if (request.url === "/" || request.url?.startsWith("/done")) {
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" })
        response.end(request.url === "/" ? hostPage(keywayUrl) : "<!doctype html><title>Done</title><p>Done</p>")
      } else {
        response.writeHead(404).end()
      }
    })
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!hasChromium)(
  `the connect form and /connect.js in Chromium${hasChromium ? "" : ` (skipped: ${CHROMIUM} is not installed; apt-get install chromium)`}`,
  () => {
    let home = ""
    let env: Record<string, string> = {}
    let server: ChildProcess
    let serverLog = ""
    let url = ""
    let apiKey = ""
    let browser: Browser
    let context: BrowserContext
    let host: { server: Server; origin: string }
    let stranger: { server: Server; origin: string }
    /** Every request the browser tried to send anywhere but 127.0.0.1: refused, and reported by the last test. */
    const offLoopback: string[] = []
    const loopbackOnly = async (browserContext: BrowserContext) => {
      await browserContext.route("**/*", (route) => {
        if (new URL(route.request().url()).hostname === "127.0.0.1") return route.continue()
        offLoopback.push(route.request().url())
        return route.abort()
      })
      return browserContext
    }

    beforeAll(async () => {
      home = mkdtempSync(join(tmpdir(), "keyway-browser-"))
      // Only this test's home: no store URL or sandbox URL from the environment.
      env = {
        ...(Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("KEYWAY_"))) as Record<
          string,
          string
        >),
        KEYWAY_HOME: home,
      }
      const created = await keyway(["workspaces", "create", "browser", "--json"], { env })
      expect(created.code).toBe(0)
      apiKey = JSON.parse(created.stdout).key
      server = spawn(process.execPath, [BIN, "serve", "--sandbox", "--port", "0", "--json"], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      })
      server.stderr?.on("data", (chunk: Buffer) => {
        serverLog += chunk.toString()
      })
      url = await new Promise<string>((resolve, reject) => {
        let output = ""
        server.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString()
          try {
            resolve(JSON.parse(output).url)
          } catch {
            // not all of it yet
          }
        })
        server.once("exit", (code) => reject(new Error(`keyway serve exited with ${code}: ${serverLog}`)))
      })
      host = await startHost(url)
      stranger = await startHost(url)
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS })
      context = await loopbackOnly(await browser.newContext())
    }, 60_000)

    afterAll(async () => {
      await browser?.close()
      for (const started of [host, stranger]) await new Promise((resolve) => started?.server.close(resolve))
      if (server && server.exitCode === null) {
        const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)))
        server.kill("SIGTERM")
        const stuck = setTimeout(() => server.kill("SIGKILL"), 20_000)
        expect(await exited).toBe(0)
        clearTimeout(stuck)
      }
      if (home) rmSync(home, { recursive: true, force: true })
    }, 30_000)

    const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
      fetch(`${url}${path}`, {
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      })

    const connections = async (): Promise<Connection[]> => {
      const response = await api("/v1/connections?limit=200")
      expect(response.status).toBe(200)
      return ((await response.json()) as { connections: Connection[] }).connections
    }

    /** A connect session for one connector, for the host page's origin unless told otherwise. */
    const session = async (connector: string, options: { origin?: string; returnUrl?: string } = {}) => {
      const response = await api("/v1/sessions", {
        method: "POST",
        body: {
          endUser: { id: "u1" },
          allowedOrigin: options.origin ?? host.origin,
          allowedConnectors: [connector],
          ...(options.returnUrl ? { returnUrl: options.returnUrl } : {}),
        },
      })
      expect(response.status).toBe(201)
      return (await response.json()) as { token: string; connectLink: string; expiresAt: string }
    }

    const openForm = async (connector: string, options: { returnUrl?: string } = {}) => {
      const { token } = await session(connector, options)
      const page = await context.newPage()
      const shown = await page.goto(`${url}/connect/${token}/${connector}`)
      expect(shown?.status()).toBe(200)
      // form.js is deferred: wait until it has wired the form.
      await page.waitForLoadState("load")
      return { page, token }
    }

    const input = (page: Page, kind: "credential" | "setting", key: string) => page.locator(`#field-${kind}-${key}`)

    /** Fills the connector's credentials: the scenario's key, and `sandbox-valid` for any other. */
    const fillCredentials = async (page: Page, c: ConnectorCase, key: string) => {
      for (const other of c.others) await input(page, "credential", other).fill("sandbox-valid")
      await input(page, "credential", c.scenario).fill(key)
    }

    /** Submits with a click, and answers what the server said to the form's script. */
    const submit = async (page: Page): Promise<FormAnswer> => {
      const answered = page.waitForResponse((r) => r.request().method() === "POST")
      await page.locator("button[type=submit]").click()
      return (await (await answered).json()) as FormAnswer
    }

    const outcome = (page: Page) => page.locator("#outcome")
    const postsLogged = () => (serverLog.match(/ POST \/connect\/\[token\]\//g) ?? []).length

    for (const c of CONNECTORS) {
      describe(`${c.name}'s form, against the sandbox`, () => {
        it("a valid key connects and is saved", async () => {
          const before = await connections()
          const { page, token } = await openForm(c.id)
          try {
            await fillCredentials(page, c, "sandbox-valid")
            const answer = await submit(page)
            expect(answer).toMatchObject({ ok: true, code: "connected", connectionId: expect.any(String) })
            await expect.poll(() => outcome(page).textContent()).toContain("Connected.")
            expect(await outcome(page).locator("[data-outcome]").getAttribute("data-outcome")).toBe("connected")
            // The button was disabled during the check; the outcome has the focus, not the page's top.
            expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe("outcome")
            const after = await connections()
            expect(after).toHaveLength(before.length + 1)
            expect(after.find((x) => x.id === answer.connectionId)).toMatchObject({
              connector: c.id,
              endUser: { id: "u1" },
            })
            // A session works once.
            const again = await page.goto(`${url}/connect/${token}/${c.id}`)
            expect(again?.status()).toBe(410)
            expect(await page.locator("h1").textContent()).toBe("Link already used")
          } finally {
            await page.close()
          }
        })

        it("a wrong key shows the vendor's message and remediation, clears the secret, keeps the rest, saves nothing", async () => {
          const before = await connections()
          const { page } = await openForm(c.id)
          try {
            if (c.setting) {
              const field = input(page, "setting", c.setting.key)
              if (c.setting.select) await field.selectOption(c.setting.value)
              else await field.fill(c.setting.value)
            }
            await fillCredentials(page, c, "sandbox-invalid")
            const answer = await submit(page)
            expect(answer).toMatchObject({ ok: false, code: "invalid_credentials" })
            expect(answer.message).toContain(c.name)
            const shown = outcome(page)
            await expect.poll(() => shown.textContent()).toContain(answer.message as string)
            expect(await shown.textContent()).toContain(answer.remediation as string)
            expect(await shown.locator("[data-code]").getAttribute("data-code")).toBe("invalid_credentials")
            // The secrets are cleared; what is not secret keeps what was typed.
            expect(await input(page, "credential", c.scenario).inputValue()).toBe("")
            for (const other of c.others) expect(await input(page, "credential", other).inputValue()).toBe("")
            if (c.setting) expect(await input(page, "setting", c.setting.key).inputValue()).toBe(c.setting.value)
            expect(new Set((await connections()).map((x) => x.id))).toEqual(new Set(before.map((x) => x.id)))
          } finally {
            await page.close()
          }
        })

        it("a key the vendor throttles once is waited for, says why, then connects", async () => {
          const before = await connections()
          const { page } = await openForm(c.id)
          try {
            await fillCredentials(page, c, "sandbox-429-retry-after-1")
            const started = Date.now()
            const answer = await submit(page)
            expect(Date.now() - started).toBeGreaterThanOrEqual(1000)
            expect(answer).toMatchObject({ ok: true, code: "connected" })
            await expect.poll(() => outcome(page).textContent()).toContain("Connected.")
            const waited = await outcome(page).locator(".waited").textContent()
            expect(waited).toMatch(
              new RegExp(`^Keyway waited 1\\.\\d s \\(${c.id} asked it to slow down\\), then tried again\\.$`),
            )
            const after = await connections()
            expect(after).toHaveLength(before.length + 1)
            expect(after.map((x) => x.id)).toContain(answer.connectionId)
          } finally {
            await page.close()
          }
        })

        it("a malformed key is caught as it is typed and on submit, and nothing is sent", async () => {
          const before = await connections()
          const { page } = await openForm(c.id)
          const posts: string[] = []
          page.on("request", (request) => {
            if (request.method() !== "GET") posts.push(`${request.method()} ${request.url()}`)
          })
          try {
            const logged = postsLogged()
            for (const other of c.others) await input(page, "credential", other).fill("sandbox-valid")
            const field = input(page, "credential", c.scenario)
            const problem = page.locator(`#field-credential-${c.scenario}-problem`)
            await field.pressSequentially(c.malformed.value)
            // As it is typed.
            expect(await problem.textContent()).toBe(c.malformed.problem)
            expect(await field.getAttribute("aria-invalid")).toBe("true")
            // And on submit: the problem stays, the field takes the focus, nothing goes out.
            await page.locator("button[type=submit]").click()
            await sleep(500)
            expect(await problem.textContent()).toBe(c.malformed.problem)
            expect(await field.getAttribute("aria-invalid")).toBe("true")
            expect(await page.evaluate("document.activeElement && document.activeElement.id")).toBe(
              `field-credential-${c.scenario}`,
            )
            expect(await outcome(page).textContent()).toBe("")
            expect(posts).toEqual([])
            expect(postsLogged()).toBe(logged)
            expect(new Set((await connections()).map((x) => x.id))).toEqual(new Set(before.map((x) => x.id)))
          } finally {
            await page.close()
          }
        })
      })
    }

    it("the form can be completed with the keyboard alone, through a failure, to a connection", async () => {
      const before = await connections()
      const { page } = await openForm("trackvia", { returnUrl: `${host.origin}/done` })
      const focused = () =>
        page.evaluate<string>(
          "(() => { const e = document.activeElement; return e ? e.id || e.tagName.toLowerCase() + ':' + (e.getAttribute('type') || '') : '' })()",
        )
      const tabTo = async (target: string, key: "Tab" | "Shift+Tab" = "Tab") => {
        for (let presses = 0; presses < 20; presses++) {
          await page.keyboard.press(key)
          if ((await focused()) === target) return
        }
        throw new Error(`${key} never reached ${target}; focus is on ${await focused()}`)
      }
      try {
        // Tab order: the vendor's guide, then each field in order, then the button.
        await tabTo("field-setting-subdomain")
        expect(await input(page, "setting", "subdomain").inputValue()).toBe("go")
        await tabTo("field-credential-apiKey")
        await page.keyboard.type("sandbox-valid")
        await tabTo("field-credential-authToken")
        await page.keyboard.type("sandbox-invalid")
        await tabTo("button:submit")
        const failed = page.waitForResponse((r) => r.request().method() === "POST")
        await page.keyboard.press("Enter")
        expect(await (await failed).json()).toMatchObject({ ok: false, code: "invalid_credentials" })
        await expect.poll(() => outcome(page).textContent()).toContain("TrackVia did not accept the auth token")
        // The outcome takes the focus, so a keyboard user is not left at the top of the page.
        await expect.poll(focused).toBe("outcome")
        await tabTo("button:submit", "Shift+Tab")
        await tabTo("field-credential-authToken", "Shift+Tab")
        // Both secrets were cleared by the failure; the subdomain kept its value.
        expect(await input(page, "credential", "authToken").inputValue()).toBe("")
        expect(await input(page, "credential", "apiKey").inputValue()).toBe("")
        expect(await input(page, "setting", "subdomain").inputValue()).toBe("go")
        await page.keyboard.type("sandbox-valid")
        await tabTo("field-credential-apiKey", "Shift+Tab")
        await page.keyboard.type("sandbox-valid")
        await tabTo("button:submit")
        await page.keyboard.press("Space")
        // With no host page around it, the form goes on to the session's returnUrl, naming the connection.
        await page.waitForURL((at) => at.origin === host.origin && at.pathname === "/done", { timeout: 20_000 })
        const connectionId = new URL(page.url()).searchParams.get("connection")
        expect(connectionId).toMatch(/./)
        const after = await connections()
        expect(after).toHaveLength(before.length + 1)
        expect(after.find((x) => x.id === connectionId)).toMatchObject({ connector: "trackvia" })
      } finally {
        await page.close()
      }
    })

    describe("accessibility", () => {
      for (const c of CONNECTORS) {
        it(`axe-core finds no serious or critical violation on ${c.name}'s form`, async () => {
          // axe is injected as an inline script, which the form's CSP forbids: this context bypasses it.
          const axeContext = await loopbackOnly(await browser.newContext({ bypassCSP: true }))
          try {
            const { token } = await session(c.id)
            const page = await axeContext.newPage()
            await page.goto(`${url}/connect/${token}/${c.id}`)
            await page.waitForLoadState("load")
            await page.addScriptTag({ path: AXE })
            const serious = async () => {
              const results = await page.evaluate<{
                violations: Array<{
                  id: string
                  impact: string | null
                  help: string
                  nodes: Array<{ target: unknown }>
                }>
              }>("axe.run(document, { resultTypes: ['violations'] })")
              return results.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map(
                  (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")})`,
                )
            }
            expect(await serious()).toEqual([])
            // And with a format problem showing.
            await input(page, "credential", c.scenario).pressSequentially(c.malformed.value)
            await page.locator("button[type=submit]").click()
            expect(await serious()).toEqual([])
          } finally {
            await axeContext.close()
          }
        })
      }
    })

    describe("screenshots", () => {
      for (const c of CONNECTORS) {
        it(`${c.name}'s form is captured in test/artifacts/${c.id}.png`, async () => {
          mkdirSync(ARTIFACTS, { recursive: true })
          const { page } = await openForm(c.id)
          try {
            const path = join(ARTIFACTS, `${c.id}.png`)
            await page.screenshot({ path, fullPage: true })
            expect(statSync(path).size).toBeGreaterThan(10_000)
          } finally {
            await page.close()
          }
        })
      }
    })

    describe("/connect.js on a host page", () => {
      const openHost = async (origin: string) => {
        const page = await context.newPage()
        const console: string[] = []
        page.on("console", (message) => {
          console.push(message.text())
        })
        await page.goto(`${origin}/`)
        return { page, console }
      }
      const events = (page: Page) => page.evaluate(() => (globalThis as unknown as HostWindow).events)
      const received = (page: Page) => page.evaluate(() => (globalThis as unknown as HostWindow).received)

      it("in an iframe: ready, then connect with the connection's id, and the Promise resolves with it", async () => {
        const before = await connections()
        const { page } = await openHost(host.origin)
        try {
          const { token } = await session("activtrak")
          await page.evaluate((t) => (globalThis as unknown as HostWindow).start(t, "iframe"), token)
          await expect.poll(() => events(page)).toEqual([{ type: "ready" }])
          const frame = page.frameLocator("iframe")
          await frame.locator("#field-credential-apiKey").fill("sandbox-valid")
          await frame.locator("button[type=submit]").click()
          const result = await page.evaluate(() => (globalThis as unknown as HostWindow).result)
          expect(result).toEqual({ type: "connect", connectionId: expect.stringMatching(/./) })
          expect(await events(page)).toEqual([
            { type: "ready" },
            { type: "connect", connectionId: result.connectionId },
          ])
          expect(await page.locator("iframe").count()).toBe(0)
          const after = await connections()
          expect(after).toHaveLength(before.length + 1)
          expect(after.find((x) => x.id === result.connectionId)).toMatchObject({ connector: "activtrak" })
          // Every message came from Keyway's origin, and none carries the key.
          const messages = await received(page)
          expect(messages.map((m) => m.origin)).toEqual([url, url])
          expect(JSON.stringify(messages)).not.toContain("sandbox-valid")
        } finally {
          await page.close()
        }
      })

      it("a wrong key reports an error event with the outcome's code; Cancel reports close and resolves", async () => {
        const before = await connections()
        const { page } = await openHost(host.origin)
        try {
          const { token } = await session("activtrak")
          await page.evaluate((t) => (globalThis as unknown as HostWindow).start(t, "iframe"), token)
          await expect.poll(() => events(page)).toEqual([{ type: "ready" }])
          const frame = page.frameLocator("iframe")
          await frame.locator("#field-credential-apiKey").fill("sandbox-invalid")
          await frame.locator("button[type=submit]").click()
          await expect.poll(async () => (await events(page)).length).toBe(2)
          const [, error] = await events(page)
          expect(error).toEqual({
            type: "error",
            code: "invalid_credentials",
            message: expect.stringContaining("ActivTrak"),
          })
          // Inside a host page the form offers Cancel, which closes it.
          await frame.getByRole("button", { name: "Cancel" }).click()
          expect(await page.evaluate(() => (globalThis as unknown as HostWindow).result)).toEqual({ type: "close" })
          expect((await events(page)).map((e) => e.type)).toEqual(["ready", "error", "close"])
          expect(await page.locator("iframe").count()).toBe(0)
          const messages = await received(page)
          expect(messages.every((m) => m.origin === url)).toBe(true)
          expect(JSON.stringify(messages)).not.toContain("sandbox-invalid")
          expect(new Set((await connections()).map((x) => x.id))).toEqual(new Set(before.map((x) => x.id)))
        } finally {
          await page.close()
        }
      })

      it("a page on another origin cannot frame the form, and hears nothing from it even in a popup", async () => {
        const before = await connections()
        const { page, console } = await openHost(stranger.origin)
        try {
          // A session for the host's origin, opened by a stranger's page.
          const framed = await session("activtrak", { origin: host.origin })
          await page.evaluate((t) => (globalThis as unknown as HostWindow).start(t, "iframe"), framed.token)
          await sleep(2500)
          expect(await events(page)).toEqual([])
          expect(await received(page)).toEqual([])
          // The browser refused the frame: it holds no form.
          expect(await page.frameLocator("iframe").locator("form").count()).toBe(0)
          expect(console.join("\n")).toMatch(/frame-ancestors/)

          // A popup is no frame, so CSP cannot stop it; the form's messages still go only to the session's origin.
          const popped = await session("activtrak", { origin: host.origin })
          const opened = page.waitForEvent("popup")
          await page.evaluate((t) => (globalThis as unknown as HostWindow).start(t, "popup"), popped.token)
          const popup = await opened
          await popup.waitForLoadState("load")
          await popup.locator("#field-credential-apiKey").fill("sandbox-valid")
          const answered = popup.waitForResponse((r) => r.request().method() === "POST")
          await popup.locator("button[type=submit]").click()
          const answer = (await (await answered).json()) as FormAnswer
          expect(answer.ok).toBe(true)
          await expect.poll(() => popup.locator("#outcome").textContent()).toContain("Connected.")
          await sleep(500)
          expect(await events(page)).toEqual([])
          expect(await received(page)).toEqual([])
          const after = await connections()
          expect(new Set(after.map((x) => x.id))).toEqual(new Set([...before.map((x) => x.id), answer.connectionId]))
          await popup.close()
        } finally {
          await page.close()
        }
      })
    })

    it("the browser sent nothing anywhere but 127.0.0.1", () => {
      expect(offLoopback).toEqual([])
    })
  },
)
