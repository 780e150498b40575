/*
 * porpoise-django's browser client: window.porpoise.track(event, id) and
 * window.porpoise.count(counter, by, id), sent in batches to the app's
 * track/ endpoint with a signed tracking token.
 *
 * Load it with the {% porpoise_tracker %} template tag, or by hand:
 *
 *   <script src=".../static/porpoise_django/porpoise.js"
 *           data-endpoint="https://app.example.com/api/porpoise/track/"
 *           data-token="..." defer></script>
 *
 * Rows wait at most data-interval milliseconds (1000) or until 50 are queued,
 * then leave in one fetch() (JSON, X-Porpoise-Token header: a page on another
 * origin needs PORPOISE["TRACK_ALLOWED_ORIGINS"]). When the page is hidden or
 * left, what is queued leaves with navigator.sendBeacon, which outlives the
 * page: a text/plain body and the token in the query string, so no preflight.
 * Refused rows and requests are written to the browser's console.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var config = (script && script.dataset) || {};
  var endpoint = config.endpoint || "/api/porpoise/track/";
  var token = config.token || "";
  var interval = parseInt(config.interval || "1000", 10);
  var BATCH = 50;
  var queue = [];
  var timer = null;

  function now() {
    return new Date().toISOString();
  }

  function schedule() {
    if (queue.length >= BATCH) {
      flush();
    } else if (timer === null) {
      timer = setTimeout(flush, interval);
    }
  }

  function beaconUrl() {
    var joiner = endpoint.indexOf("?") === -1 ? "?" : "&";
    return endpoint + joiner + "token=" + encodeURIComponent(token);
  }

  // Sends what is queued; resolves to the server's answers (one per batch).
  function flush() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
    var sent = [];
    while (queue.length) {
      var rows = queue.splice(0, BATCH);
      sent.push(post(rows));
    }
    return Promise.all(sent);
  }

  function post(rows) {
    var headers = { "Content-Type": "application/json" };
    if (token) {
      headers["X-Porpoise-Token"] = token;
    }
    return fetch(endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ rows: rows }),
      credentials: token ? "omit" : "same-origin",
      keepalive: true,
    })
      .then(function (response) {
        return response.json().then(function (body) {
          report(response.status, body);
          return body;
        });
      })
      .catch(function (error) {
        // Network down or refused: keep the rows for the next batch.
        queue = rows.concat(queue);
        return { error: String(error) };
      });
  }

  // Refused requests and refused rows reach the console: a row the token does
  // not allow is never dropped silently.
  function report(status, body) {
    if (!window.console) {
      return;
    }
    if (status >= 400) {
      console.error("porpoise: track/ answered " + status + ":", body);
    } else if (body && body.errors && body.errors.length) {
      body.errors.forEach(function (error) {
        console.warn("porpoise: row " + error.index + " refused: " + error.error);
      });
    }
  }

  // The page is going away: the beacon is queued by the browser itself.
  function leave() {
    if (!queue.length || !navigator.sendBeacon) {
      return;
    }
    while (queue.length) {
      var rows = queue.splice(0, BATCH);
      if (!navigator.sendBeacon(beaconUrl(), JSON.stringify({ rows: rows }))) {
        queue = rows.concat(queue);
        return;
      }
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      leave();
    }
  });
  window.addEventListener("pagehide", leave);

  window.porpoise = {
    track: function (event, id) {
      var row = { event: event, time: now() };
      if (id !== undefined && id !== null) {
        row.id = id;
      }
      queue.push(row);
      schedule();
    },
    count: function (counter, by, id) {
      var row = { counter: counter, by: by === undefined ? 1 : by, time: now() };
      if (id !== undefined && id !== null) {
        row.id = id;
      }
      queue.push(row);
      schedule();
    },
    flush: flush,
    pending: function () {
      return queue.length;
    },
  };
})();
