// Browser-test harness: starts the spurlos binary on a free port with its own data directory,
// serves customer pages from a second origin, and drives Debian's Chromium via playwright-core.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ADMIN = 'browser-test-admin-token-0123';
export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';

function binary() {
  if (process.env.SPURLOS_BIN) return process.env.SPURLOS_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(here, '..', '..', 'target');
  return join(target, 'debug', 'spurlos');
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startSpurlos() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'spurlos-browser-'));
  const child = spawn(binary(), ['serve'], {
    env: {
      ...process.env,
      SPURLOS_LISTEN: `127.0.0.1:${port}`,
      SPURLOS_DATA_DIR: dataDir,
      SPURLOS_ADMIN_TOKEN: ADMIN,
      SPURLOS_FLUSH_INTERVAL_MS: '20',
      SPURLOS_LOG: process.env.SPURLOS_LOG || 'warn',
      // On ClickHouse (SPURLOS_STORE=clickhouse, SPURLOS_CLICKHOUSE_URL) each server gets its own
      // database.
      SPURLOS_CLICKHOUSE_DATABASE: `browser_${randomBytes(6).toString('hex')}`,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/health`);
      if (r.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const api = async (path, body) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${path}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  return {
    base,
    api,
    addSite: (domain) => api('/api/admin/sites', { domain }),
    query: (q) => api('/api/v2/query', q),
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** Rows of a query as [dimensions, metrics] pairs, waiting until `ready(rows)` holds. */
export async function waitForRows(spurlos, q, ready, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let rows = [];
  while (Date.now() < deadline) {
    const v = await spurlos.query(q);
    rows = v.results.map((r) => [r.dimensions, r.metrics]);
    if (ready(rows)) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return rows;
}

const types = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript' };

/** Serves `pages` (path → HTML) and the tracker-js node_modules from 127.0.0.1. */
export async function startCustomerSite(pages) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (pages[path] !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end(pages[path]);
    }
    if (path.startsWith('/node_modules/')) {
      let file = join(here, '..', path);
      // ES modules built for bundlers import './constants' without the extension.
      if (!existsSync(file) && existsSync(`${file}.js`)) file = `${file}.js`;
      if (existsSync(file)) {
        res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream' });
        return res.end(readFileSync(file));
      }
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('file');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
