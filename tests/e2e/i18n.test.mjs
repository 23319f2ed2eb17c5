// The widget in seven languages (issue 14): the locale comes from
// `init({ locale })`, else `navigator.language` (exact tag, else its
// language), else English; the panel carries `lang` and `dir` (right to
// left for Arabic); the page downloads only the chosen catalog's chunk;
// times are written by Intl in the locale; and the widget asks the server
// for its texts in the locale (Accept-Language), so the greeting comes from
// `[apps.messages.fr]`.
//
// The expected texts are read from the catalogs (www/widget/i18n/*.json):
// these tests check that the widget shows the chosen catalog's texts, not
// how they are worded.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { ROOT } from "../../scripts/lib.mjs";
import { axeViolations, launchBrowser, openChat, startStack } from "./harness.mjs";

let stack;
let browser;

before(async () => {
  stack = await startStack({
    extraToml: `
[apps.messages]
greeting_identified = "Hi {first_name}! Log in to verify it's you: {login_url}"

[apps.messages.fr]
greeting_identified = "Bonjour {first_name} ! Connectez-vous pour confirmer votre identité : {login_url}"

[limits]
sessions_per_minute_per_address = 6000
session_burst_per_address = 1000
`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A catalog as the widget ships it. */
function catalog(locale) {
  return JSON.parse(readFileSync(path.join(ROOT, "www", "widget", "i18n", `${locale}.json`), "utf8"));
}

/** The locale of a catalog chunk's URL (`/widget/trustchat.i18n-<locale>.<hash>.json`), or null. */
function chunkLocale(url) {
  return new URL(url).pathname.match(/\/trustchat\.i18n-([A-Za-z]+(?:-[A-Za-z0-9]+)*)\.[^/]+\.json$/)?.[1] ?? null;
}

/**
 * A blank page of the site in a browser context with `contextOptions`
 * (its `locale` is the browser's language) and the widget's script loaded.
 * `page.requests` records every request the page makes.
 */
async function sitePage(contextOptions = {}) {
  const context = await browser.newContext({ locale: "en-US", timezoneId: "Europe/Paris", ...contextOptions });
  const page = await context.newPage();
  page.problems = [];
  page.requests = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("request", (request) => page.requests.push(request));
  await page.route(`${stack.url}/shop/host-page`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: '<!doctype html><html lang="en"><title>Shop</title><link rel="icon" href="data:,"><body><h1>Shop</h1></body></html>',
    }),
  );
  await page.goto(`${stack.url}/shop/host-page`);
  await page.addScriptTag({ url: `${stack.url}/widget/trustchat.js` });
  return page;
}

function init(page, config) {
  return page.evaluate((config) => window.TrustChat.init(config), { appId: "demo", ...config });
}

/**
 * The catalogs the page has requested, by locale, each once: the loader's
 * prefetch and the fetch that the prefetch then serves from the HTTP cache
 * are one download.
 */
async function chunksRequested(page) {
  // Whatever the page would still fetch has been asked for by now.
  await page.waitForLoadState("networkidle");
  return [...new Set(page.requests.map((r) => chunkLocale(r.url())).filter(Boolean))];
}

/** The panel's lang and dir, and the direction it is laid out in. */
function panelLanguage(page) {
  return page.locator("[data-tc=panel]").evaluate((el) => ({
    lang: el.getAttribute("lang"),
    dir: el.getAttribute("dir"),
    direction: getComputedStyle(el).direction,
  }));
}

/** The hour and minute as Intl writes them in `locale` (the usual option sets), for `iso`. */
function timeTexts(page, locale, iso) {
  return page.evaluate(
    ({ locale, iso }) => [
      ...new Set(
        [{ timeStyle: "short" }, { hour: "numeric", minute: "2-digit" }, { hour: "2-digit", minute: "2-digit" }].map((o) =>
          new Intl.DateTimeFormat(locale, o).format(new Date(iso)),
        ),
      ),
    ],
    { locale, iso },
  );
}

async function send(page, text) {
  const composer = page.locator("[data-tc=composer]");
  await composer.fill(text);
  await composer.press("Enter");
  const message = page.locator("[data-tc=message][data-author=customer][data-state=sent]").filter({ hasText: text });
  await message.waitFor();
  return message;
}

/** The onboarding form's texts as shown. */
async function onboardingTexts(page) {
  await page.locator("[data-tc=onboarding]").waitFor();
  return {
    start: (await page.locator("[data-tc=submit]").textContent()).trim(),
    name: (await page.locator("[data-tc=name]").evaluate((el) => el.labels?.[0]?.textContent ?? "")).trim(),
  };
}

describe("languages", () => {
  test("init({ locale: 'fr' }) shows the French catalog, lang=fr dir=ltr, and downloads only its chunk", async () => {
    const fr = catalog("fr");
    const en = catalog("en");
    for (const key of ["open", "close", "start", "name", "busy"]) {
      assert.equal(typeof fr[key], "string", `fr.json has "${key}"`);
      assert.notEqual(fr[key], en[key], `fr.json's "${key}" is translated`);
    }
    const page = await sitePage();
    await init(page, { locale: "fr" });
    await openChat(page);
    await page.locator("[data-tc=panel][lang=fr]").waitFor();
    assert.deepEqual(await panelLanguage(page), { lang: "fr", dir: "ltr", direction: "ltr" });
    assert.deepEqual(await onboardingTexts(page), { start: fr.start, name: fr.name });
    // Nobody is online in this stack: the busy notice, in French.
    const notice = page.locator("[data-tc=availability][data-availability=busy]").filter({ visible: true });
    await notice.waitFor();
    assert.equal((await notice.textContent()).trim(), fr.busy);
    const launcher = page.locator("[data-tc=launcher]");
    assert.equal(await launcher.getAttribute("aria-label"), fr.close, "the open chat's launcher says close, in French");
    await page.keyboard.press("Escape");
    await page.locator("[data-tc=panel]").waitFor({ state: "hidden" });
    assert.equal(await launcher.getAttribute("aria-label"), fr.open);

    assert.deepEqual(await chunksRequested(page), ["fr"], "exactly one catalog chunk, the French one");
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("without init's locale, navigator.language chooses: exact tag, its language, else English; Arabic is right to left", async () => {
    const cases = [
      // [the browser's language, init's locale, the catalog, dir]
      ["fr-FR", undefined, "fr", "ltr"],
      ["de", undefined, "de", "ltr"],
      ["es-MX", undefined, "es", "ltr"],
      ["pt", undefined, "pt-BR", "ltr"],
      ["pt-BR", undefined, "pt-BR", "ltr"],
      ["ja-JP", undefined, "ja", "ltr"],
      ["ar-EG", undefined, "ar", "rtl"],
      ["en-GB", undefined, "en", "ltr"],
      ["sv-SE", undefined, "en", "ltr"],
      // init's locale wins over the browser's, matched case-insensitively.
      ["de-DE", "PT-br", "pt-BR", "ltr"],
      ["fr-FR", "ar", "ar", "rtl"],
      ["fr-FR", "en", "en", "ltr"],
    ];
    for (const [browserLocale, locale, expected, dir] of cases) {
      const what = `browser ${browserLocale}, init locale ${locale ?? "(none)"}`;
      const texts = catalog(expected);
      const page = await sitePage({ locale: browserLocale });
      assert.equal(await page.evaluate(() => navigator.language), browserLocale);
      await init(page, locale === undefined ? {} : { locale });
      await openChat(page);
      await page.locator(`[data-tc=panel][lang="${expected}"]`).waitFor();
      assert.deepEqual(await panelLanguage(page), { lang: expected, dir, direction: dir }, what);
      assert.deepEqual(await onboardingTexts(page), { start: texts.start, name: texts.name }, what);
      if (expected === "en") assert.equal((await onboardingTexts(page)).start, "Start chat", `${what}: English as today`);
      if (dir === "rtl") {
        assert.deepEqual(await axeViolations(page, { include: [["#trustchat-root"]] }), [], `${what}: axe-core`);
      }
      const chunks = await chunksRequested(page);
      if (expected === "en") {
        assert.ok(chunks.every((c) => c === "en") && chunks.length <= 1, `${what}: no other catalog: ${chunks}`);
      } else {
        assert.deepEqual(chunks, [expected], `${what}: exactly the ${expected} chunk`);
      }
      assert.deepEqual(page.problems, [], what);
      await page.context().close();
    }
  });

  test("the greeting comes from [apps.messages.fr] (the widget sends Accept-Language: fr); times are written by Intl in French", async () => {
    const fr = catalog("fr");
    // The browser itself prefers English: only the widget's locale asks for French.
    const page = await sitePage({ locale: "en-US" });
    await init(page, { locale: "fr" });
    await page.evaluate(() => window.TrustChat.setUser({ name: "Ada Lovelace", email: "ada.fr@example.com" }));
    await openChat(page);
    await page.locator("[data-tc=greeting]").filter({ hasText: "Bonjour Ada ! Connectez-vous" }).waitFor();
    assert.equal((await page.locator("[data-tc=send]").textContent()).trim(), fr.send);
    const message = await send(page, "Où est mon colis ?");
    const time = message.locator("time");
    const iso = await time.getAttribute("datetime");
    assert.ok(!Number.isNaN(Date.parse(iso)), `datetime is a date: ${iso}`);
    const texts = await timeTexts(page, "fr", iso);
    const shown = (await time.textContent()).trim();
    assert.ok(texts.includes(shown), `the time ${JSON.stringify(shown)} is one of ${JSON.stringify(texts)}`);

    // What the server got: the session and the history in French.
    const api = page.requests.filter((r) => {
      const p = new URL(r.url()).pathname;
      return p === "/api/v1/apps/demo/sessions" || p === "/api/v1/messages";
    });
    assert.ok(api.length > 0, "the widget made its API requests");
    for (const request of api) {
      assert.equal((await request.allHeaders())["accept-language"], "fr", `${request.method()} ${request.url()}`);
    }
    assert.deepEqual(await chunksRequested(page), ["fr"]);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

  test("in English, the greeting is [apps.messages]' and times are written by Intl in English", async () => {
    const page = await sitePage({ locale: "en-US" });
    await init(page, { locale: "en" });
    await page.evaluate(() => window.TrustChat.setUser({ name: "Ada Lovelace", email: "ada.en@example.com" }));
    await openChat(page);
    await page.locator("[data-tc=greeting]").filter({ hasText: "Hi Ada! Log in to verify it's you" }).waitFor();
    assert.equal((await page.locator("[data-tc=send]").textContent()).trim(), "Send");
    const message = await send(page, "Where is my parcel?");
    const time = message.locator("time");
    const iso = await time.getAttribute("datetime");
    const texts = await timeTexts(page, "en", iso);
    const shown = (await time.textContent()).trim();
    assert.ok(texts.includes(shown), `the time ${JSON.stringify(shown)} is one of ${JSON.stringify(texts)}`);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
});
