// Sends one event (JSON on stdin) through a vendor's official JavaScript SDK to the URL given, then exits.
// Usage: SDK_KEY=<write key> node send.cjs userflux|userflux-profile|jitsu <url> < event.json
// The event is in the load's own shape: name, userId, anonymousId, sessionId, timestamp (ms), properties;
// userflux-profile writes the user's profile with the event's properties (identify).
"use strict";
const [sdk, url] = process.argv.slice(2);
const key = process.env.SDK_KEY;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function userfluxClient() {
  // The SDK posts to its production origin; only the origin is rewritten, to the capture server's.
  const axios = require("axios");
  axios.interceptors.request.use((config) => {
    config.url = config.url.replace("https://integration-api.userflux.co", url);
    return config;
  });
  const UserFlux = require("@userflux/backend-js");
  return new UserFlux(key, {});
}

function checked(what, res) {
  // the SDK logs a failed request and resolves undefined: a failure must fail the run
  if (!res || res.status >= 300) throw new Error(`userflux ${what} failed: ${res && res.status}`);
}

async function userflux(event) {
  checked("track", await userfluxClient().track({ event: event.name, userId: event.userId,
    anonymousId: event.anonymousId, sessionId: event.sessionId, timestamp: event.timestamp,
    properties: event.properties }));
}

async function userfluxProfile(event) {
  checked("identify", await userfluxClient().identify({ userId: event.userId, properties: event.properties }));
}

async function jitsu(event) {
  const { jitsuAnalytics } = require("@jitsu/js");
  const client = jitsuAnalytics({ host: url, writeKey: key, s2s: true, errorPolicy: "rethrow" });
  await client.track(event.name, event.properties, { userId: event.userId, anonymousId: event.anonymousId,
    context: event.deviceData || {} });
}

const senders = { userflux, "userflux-profile": userfluxProfile, jitsu };
if (!senders[sdk] || !url) {
  console.error("usage: node send.cjs userflux|userflux-profile|jitsu <url>");
  process.exit(2);
}
readStdin().then(senders[sdk]).then(() => process.exit(0), (err) => {
  console.error(err && err.stack || String(err));
  process.exit(1);
});
