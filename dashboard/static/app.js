/* Union Sentinel dashboard behaviour. Loaded as a static file: the CSP allows no inline script.
 * 1. Charts: every .chart[data-src] is filled from its JSON endpoint with ECharts (vendored).
 * 2. Review queue keyboard: j/k move between cards, a approves, r picks a removal reason. */
(function () {
  'use strict';

  var COLORS = { pos: '#3a9a5b', neu: '#9aa3ad', neg: '#d9534f', line: '#1f5fbf' };

  function chartOption(d) {
    var bar = function (name, key) {
      return { name: name, type: 'bar', stack: 'n', data: d[key], itemStyle: { color: COLORS[key] },
               emphasis: { focus: 'series' } };
    };
    return {
      animation: false,
      tooltip: { trigger: 'axis' },
      legend: { data: ['正面', '中性', '负面', '平均倾向'] },
      grid: { left: 48, right: 56, top: 40, bottom: 56 },
      dataZoom: [{ type: 'inside' }, { type: 'slider', height: 18, bottom: 8 }],
      xAxis: { type: 'category', data: d.labels },
      yAxis: [
        { type: 'value', name: '帖子数', minInterval: 1 },
        { type: 'value', name: '倾向', min: -1, max: 1, splitLine: { show: false } }
      ],
      series: [
        bar('正面', 'pos'), bar('中性', 'neu'), bar('负面', 'neg'),
        { name: '平均倾向', type: 'line', yAxisIndex: 1, data: d.avg_polarity, connectNulls: d.bucket === 'day',
          symbolSize: 4, itemStyle: { color: COLORS.line } }
      ]
    };
  }

  function showError(el, message) {
    el.textContent = message;
    el.classList.add('chart-error');
  }

  function renderChart(el) {
    if (typeof window.echarts === 'undefined') {
      showError(el, '图表组件未加载，请刷新页面。');
      return;
    }
    fetch(el.getAttribute('data-src'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      })
      .then(function (data) {
        var chart = window.echarts.init(el, null, { renderer: 'canvas' });
        chart.setOption(chartOption(data));
        window.addEventListener('resize', function () { chart.resize(); });
        el.setAttribute('data-ready', '1');
      })
      .catch(function (err) { showError(el, '图表数据加载失败（' + err.message + '），请刷新重试。'); });
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (target && target.isContentEditable);
  }

  function setupQueueKeys() {
    var cards = Array.prototype.slice.call(document.querySelectorAll('.post-card'));
    if (!cards.length || !document.querySelector('.approve-form')) { return; }
    function current() {
      var active = document.activeElement;
      return active && active.closest ? active.closest('.post-card') : null;
    }
    function move(step) {
      var idx = cards.indexOf(current());
      var next = cards[Math.min(Math.max(idx + step, 0), cards.length - 1)];
      if (idx < 0) { next = cards[0]; }
      next.focus();
      next.scrollIntoView({ block: 'nearest' });
    }
    document.addEventListener('keydown', function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
      var card = current();
      if (ev.key === 'j') { move(1); ev.preventDefault(); }
      else if (ev.key === 'k') { move(-1); ev.preventDefault(); }
      else if (ev.key === 'a' && card) {
        var approve = card.querySelector('.approve-form');
        if (approve) { approve.requestSubmit(); ev.preventDefault(); }
      } else if (ev.key === 'r' && card) {
        var select = card.querySelector('.remove-form select');
        if (select) { select.focus(); ev.preventDefault(); }
      }
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.chart[data-src]'), renderChart);
    setupQueueKeys();
  });
}());

/* 3. A case's volume (事件页 声量变化): posts per hour or day from /api/cases/<id>/volume, with the first
 * response and the clarification marked. */
(function () {
  'use strict';

  function volumeOption(d) {
    var marks = (d.marks || []).map(function (m) {
      return { name: m.name, xAxis: m.label, label: { formatter: m.name, position: 'insideEndTop' } };
    });
    return {
      animation: false,
      tooltip: { trigger: 'axis' },
      grid: { left: 40, right: 24, top: 28, bottom: 40 },
      xAxis: { type: 'category', data: d.labels },
      yAxis: { type: 'value', name: '帖子数', minInterval: 1 },
      series: [{
        name: '帖子数', type: 'bar', data: d.counts, itemStyle: { color: '#6b2fa3' },
        markLine: { symbol: 'none', silent: true, lineStyle: { color: '#1a7f37', type: 'dashed', width: 2 },
                    data: marks }
      }]
    };
  }

  function renderVolume(el) {
    if (typeof window.echarts === 'undefined') {
      el.textContent = '图表组件未加载，请刷新页面。';
      el.classList.add('chart-error');
      return;
    }
    fetch(el.getAttribute('data-volume-src'), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      })
      .then(function (data) {
        var chart = window.echarts.init(el, null, { renderer: 'canvas' });
        chart.setOption(volumeOption(data));
        window.addEventListener('resize', function () { chart.resize(); });
        el.setAttribute('data-marks', String((data.marks || []).length));
        el.setAttribute('data-ready', '1');
      })
      .catch(function (err) {
        el.textContent = '图表数据加载失败（' + err.message + '），请刷新重试。';
        el.classList.add('chart-error');
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.chart[data-volume-src]'), renderVolume);
  });
}());
