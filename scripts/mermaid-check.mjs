// Parse Mermaid diagrams with the real Mermaid parser (headless: jsdom provides the DOM it expects).
// Input on stdin: a JSON list of {"name": ..., "text": ...}. Prints one line per diagram; exit 1 if any fails.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = 0;
for (const { name, text } of JSON.parse(input)) {
  try {
    const result = await mermaid.parse(text);
    console.log(`ok ${name} (${result.diagramType})`);
  } catch (error) {
    failed += 1;
    const message = String(error?.message ?? error).split("\n").slice(0, 4).join(" | ");
    console.log(`FAIL ${name}: ${message}`);
  }
}
process.exit(failed ? 1 : 0);
