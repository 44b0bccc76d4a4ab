// Optional enhancement of the comment forms; every page works without it.
// - After a post, the API redirects to ?comment=received&receipt=<id>#comment-status; the status
//   link then points at that one comment's status rather than at the list of the reader's own.
// - Each textarea keeps a draft in localStorage, so a closed tab or a failed post loses nothing.
//   The draft of the form last sent is removed once its comment is received.
// - A textarea with data-max-length shows its character count in the hint it is described by,
//   and the form is not sent while the text is too long (the text stays in the box).
(function () {
  var SENT_KEY = 'marginalia-draft-sent';
  var params = new URLSearchParams(location.search);
  var receipt = params.get('receipt') || '';
  var received = params.get('comment') === 'received' && /^[a-z0-9-]{1,64}$/.test(receipt);

  function tryStorage(action) {
    try {
      return action();
    } catch (error) {
      // Storage can be disabled or full; drafts are a convenience only.
      return null;
    }
  }

  var status = document.getElementById('comment-status');
  var link = status && status.querySelector('[data-status-link]');
  if (received && link) {
    link.href = status.dataset.apiUrl + '/api/comments/' + encodeURIComponent(receipt);
    link.textContent = 'See the status of this comment';
    tryStorage(function () {
      var sent = sessionStorage.getItem(SENT_KEY);
      if (sent) localStorage.removeItem(sent);
      sessionStorage.removeItem(SENT_KEY);
    });
  }

  function format(count) {
    return count.toLocaleString('en-US');
  }

  // Counts as the API does: UTF-16 code units after NFC, with each line break sent as CRLF, the
  // way browsers encode a textarea in a form post.
  function countCharacters(text) {
    return text.normalize('NFC').replace(/\r?\n/g, '\r\n').length;
  }

  function watchLength(area) {
    var max = Number(area.dataset.maxLength);
    var hint = document.getElementById(area.getAttribute('aria-describedby'));
    if (!max || !hint) return;
    function update() {
      var count = countCharacters(area.value);
      var over = count - max;
      var message =
        over > 0
          ? format(count) +
            ' of ' +
            format(max) +
            ' characters: ' +
            format(over) +
            ' too many. Shorten the comment to send it.'
          : format(count) + ' of ' + format(max) + ' characters.';
      hint.textContent = message;
      hint.classList.toggle('over-limit', over > 0);
      area.setCustomValidity(over > 0 ? message : '');
    }
    area.addEventListener('input', update);
    update();
  }

  document.querySelectorAll('textarea[data-draft-key]').forEach(function (area) {
    var key = area.dataset.draftKey;
    var saved = tryStorage(function () {
      return localStorage.getItem(key);
    });
    if (saved && !area.value) {
      area.value = saved;
      var details = area.closest('details');
      if (details) details.open = true;
    }
    area.addEventListener('input', function () {
      tryStorage(function () {
        if (area.value) localStorage.setItem(key, area.value);
        else localStorage.removeItem(key);
      });
    });
    area.form.addEventListener('submit', function () {
      tryStorage(function () {
        sessionStorage.setItem(SENT_KEY, key);
      });
    });
    watchLength(area);
  });
})();
