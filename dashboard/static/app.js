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
        if (el.getAttribute('data-drill') && data.days) {  // a day's bar: that day's posts (of that sentiment)
          chart.on('click', function (p) {
            var sentiment = { '正面': 'pos', '中性': 'neu', '负面': 'neg' }[p.seriesName];
            var args = { day: data.days[p.dataIndex] };
            if (sentiment) { args.sentiment = sentiment; }
            window.sentinelDrill(el, args);
          });
        }
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

/* 4. The officers' dashboard (总览): every .dash-chart[data-dash-src] is drawn by its data-kind from the
 * JSON endpoint (one request per address, shared by the charts that read it). Clicking a point, bar or
 * word opens the posts behind it: data-drill is the drill-down page with the dashboard's filter, and the
 * click adds day / topic / channel / word / sentiment. Names from the data (topics, words, channels)
 * only ever reach the canvas: tooltips are drawn as rich text, never as HTML. */
(function () {
  'use strict';

  var PALETTE = ['#1f5fbf', '#d9534f', '#3a9a5b', '#f07f1a', '#6b2fa3', '#17a2b8', '#8a5300', '#c2185b', '#607d8b'];
  var requests = {};

  function load(url) {
    if (!requests[url]) {
      requests[url] = fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          if (!r.ok) { throw new Error('HTTP ' + r.status); }
          return r.json();
        });
    }
    return requests[url];
  }

  window.sentinelDrill = function (el, args) {
    var base = el.getAttribute('data-drill');
    if (!base) { return; }
    var url = new URL(base, window.location.href);
    if (url.origin !== window.location.origin) { return; }
    Object.keys(args).forEach(function (k) {
      if (args[k] !== null && args[k] !== undefined && args[k] !== '') { url.searchParams.set(k, String(args[k])); }
    });
    window.location.assign(url.pathname + url.search);
  };

  function base(extra) {
    var o = {
      animation: false,
      color: PALETTE,
      tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
      legend: { type: 'scroll', top: 0 },
      grid: { left: 44, right: 16, top: 36, bottom: 28, containLabel: true }
    };
    Object.keys(extra).forEach(function (k) { o[k] = extra[k]; });
    return o;
  }

  var KINDS = {
    topics: function (d) {
      return {
        option: base({
          xAxis: { type: 'category', data: d.labels, boundaryGap: false },
          yAxis: { type: 'value', minInterval: 1 },
          series: d.topics.map(function (t) {
            return { name: t.name, type: 'line', stack: 'n', areaStyle: { opacity: 0.35 }, symbolSize: 4, data: t.counts };
          })
        }),
        drill: function (p) {
          var t = d.topics[p.seriesIndex];
          return { day: d.days[p.dataIndex], topic: t && t.key };
        }
      };
    },
    channels: function (d) {
      return {
        option: base({
          xAxis: { type: 'category', data: d.labels },
          yAxis: { type: 'value', minInterval: 1 },
          series: d.channels.map(function (c) { return { name: c.name, type: 'bar', stack: 'n', data: c.counts }; })
        }),
        drill: function (p) {
          var c = d.channels[p.seriesIndex];
          return { day: d.days[p.dataIndex], channel: c && c.key };
        }
      };
    },
    negshare: function (d) {
      return {
        option: base({
          legend: { show: false },
          xAxis: { type: 'category', data: d.labels },
          yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
          series: [{ name: '负面占比（%）', type: 'line', data: d.negative_share, connectNulls: true, symbolSize: 5,
                     itemStyle: { color: '#d9534f' }, areaStyle: { opacity: 0.15 } }]
        }),
        drill: function (p) { return { day: d.days[p.dataIndex], sentiment: 'neg' }; }
      };
    },
    topicneg: function (d) {
      var rows = d.topic_negative.slice().reverse();
      return {
        option: base({
          legend: { show: false },
          tooltip: { trigger: 'item', renderMode: 'richText', confine: true },
          xAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
          yAxis: { type: 'category', data: rows.map(function (r) { return r.name; }) },
          series: [{ name: '负面占比（%）', type: 'bar', itemStyle: { color: '#d9534f' },
                     data: rows.map(function (r) { return r.share; }) }]
        }),
        drill: function (p) { return { topic: rows[p.dataIndex] && rows[p.dataIndex].key, sentiment: 'neg' }; }
      };
    },
    words: function (d) {
      return {
        option: {
          animation: false,
          tooltip: { trigger: 'item', renderMode: 'richText', confine: true },
          series: [{
            type: 'wordCloud', shape: 'circle', left: 'center', top: 'center', width: '96%', height: '96%',
            sizeRange: [12, 46], rotationRange: [0, 0], gridSize: 6, drawOutOfBound: false, layoutAnimation: false,
            textStyle: { fontWeight: 'bold', color: function (p) { return PALETTE[p.dataIndex % PALETTE.length]; } },
            emphasis: { textStyle: { color: '#17324d' } },
            data: d.words
          }]
        },
        drill: function (p) { return { word: p.name }; },
        empty: d.words.length === 0 ? '这段时间没有热词。' : ''
      };
    },
    moderation: function (d) {
      var s = d.summary;
      var summary = document.getElementById('moderation-summary');
      if (summary) {
        summary.textContent = s.decided ?
          ('人工处理 ' + s.decided + ' 条，中位响应 ' + s.median + ' 分钟，90% 在 ' + s.p90 + ' 分钟内；新标记 ' +
           s.flagged + ' 条，规则自动删除 ' + s.auto + ' 条。') :
          ('这段时间没有人工处理；新标记 ' + s.flagged + ' 条，规则自动删除 ' + s.auto + ' 条。');
      }
      return {
        option: base({
          xAxis: { type: 'category', data: d.labels },
          yAxis: [{ type: 'value', name: '条', minInterval: 1 }, { type: 'value', name: '分钟', splitLine: { show: false } }],
          series: [
            { name: '新标记', type: 'bar', data: d.flagged, itemStyle: { color: '#f2c200' } },
            { name: '人工处理', type: 'bar', data: d.decided, itemStyle: { color: '#1f5fbf' } },
            { name: '自动删除', type: 'bar', data: d.auto, itemStyle: { color: '#9aa3ad' } },
            { name: '中位响应', type: 'line', yAxisIndex: 1, data: d.median, connectNulls: true, itemStyle: { color: '#3a9a5b' } },
            { name: '90% 分位', type: 'line', yAxisIndex: 1, data: d.p90, connectNulls: true, itemStyle: { color: '#d9534f' } }
          ]
        })
      };
    }
  };

  function fail(el, message) {
    el.textContent = message;
    el.classList.add('chart-error');
  }

  function render(el) {
    var kind = KINDS[el.getAttribute('data-kind')];
    if (!kind) { return; }
    if (typeof window.echarts === 'undefined') { fail(el, '图表组件未加载，请刷新页面。'); return; }
    load(el.getAttribute('data-dash-src'))
      .then(function (data) {
        var made = kind(data);
        if (made.empty) {
          el.textContent = made.empty;
          el.classList.add('chart-empty');
          el.setAttribute('data-ready', '1');
          return;
        }
        var chart = window.echarts.init(el, null, { renderer: 'canvas' });
        chart.setOption(made.option);
        window.addEventListener('resize', function () { chart.resize(); });
        if (made.drill) {
          chart.on('click', function (p) { window.sentinelDrill(el, made.drill(p)); });
        }
        el.setAttribute('data-ready', '1');
      })
      .catch(function (err) { fail(el, '图表数据加载失败（' + err.message + '），请刷新重试。'); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.dash-chart[data-dash-src]'), render);
  });
}());
