/* SPDX-License-Identifier: MIT */
/*
 * http_page.c - the status page (http_page.h): the snapshot written from a
 * status document, and the script that renders the same sections from GET
 * /status every second.
 *
 * The two renderers are kept as mirrors of each other: each section is a
 * list of rows (the members table) or of key/value pairs (the <dl>s), made
 * by the same rules, in the same order, from the same keys. The C side
 * formats a whole text first, then escapes it (textf), so no byte of the
 * document reaches the page unescaped; the script sets textContent only.
 * The body's data-source attribute says which one drew what is shown
 * ("server", "script", or "stale" when /status stopped answering).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"

#include "http_page.h"

void http_page_escape(FILE *f, const char *s)
{
	if (!s)
		return;
	for (const char *p = s; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*p, f);
		}
	}
}

/* ---- reading the document --------------------------------------------------- */

/* The value at a dotted path ("pg.lsn"), or NULL. */
static const json_t *at(const json_t *o, const char *path)
{
	char key[64];
	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		if (len >= sizeof key)
			return NULL;
		memcpy(key, path, len);
		key[len] = 0;
		o = json_is_object(o) ? json_object_get(o, key) : NULL;
		path += len + (dot ? 1 : 0);
	}
	return o;
}

static const char *str_at(const json_t *o, const char *path)
{
	const json_t *v = at(o, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A text for the page: "—" for a missing or empty one (as the script's v()). */
static const char *text_at(const json_t *o, const char *path)
{
	const char *s = str_at(o, path);
	return s && *s ? s : "\xe2\x80\x94";
}

static long long int_at(const json_t *o, const char *path)
{
	return (long long)json_integer_value(at(o, path));
}

static bool true_at(const json_t *o, const char *path)
{
	return json_is_true(at(o, path));
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* ---- writing ------------------------------------------------------------------ */

/* The formatted text, escaped: the only way data reaches the page. */
__attribute__((format(printf, 2, 3))) static void textf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		http_page_escape(f, s);
	free(s);
}

/* A growing text made of parts (a cell, a value), joined by ", ". */
struct parts {
	char buf[768];
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void part(struct parts *p, const char *fmt, ...)
{
	if (p->len && p->len < sizeof p->buf)
		p->len += (size_t)snprintf(p->buf + p->len, sizeof p->buf - p->len, ", ");
	if (p->len >= sizeof p->buf)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->buf + p->len, sizeof p->buf - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len += (size_t)n;
}

static const char *parts_text(const struct parts *p)
{
	return p->len ? p->buf : "\xe2\x80\x94";
}

static void cell(FILE *f, const char *s)
{
	fputs("<td>", f);
	textf(f, "%s", s);
	fputs("</td>", f);
}

static void key(FILE *f, const char *k)
{
	fprintf(f, "<dt>%s</dt><dd>", k); /* k is this file's own text */
}

__attribute__((format(printf, 3, 4))) static void kv(FILE *f, const char *k, const char *fmt, ...)
{
	key(f, k);
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		http_page_escape(f, s);
	free(s);
	fputs("</dd>", f);
}

/* ---- the sections (mirrored by the script's rows(), master(), ...) ---------- */

static const json_t *find_named(const json_t *array, const char *name)
{
	size_t i;
	const json_t *e;
	json_array_foreach(array, i, e) if (same(str_at(e, "name"), name)) return e;
	return NULL;
}

static void summary(FILE *f, const json_t *s)
{
	textf(f, "%s (%s) \xc2\xb7 raft %s, term %lld \xc2\xb7 leader %s \xc2\xb7 lease %s",
	      text_at(s, "name"), text_at(s, "kind"), text_at(s, "role"), int_at(s, "term"),
	      str_at(s, "leader") ? str_at(s, "leader") : "none",
	      true_at(s, "lease.valid") ? "held" : "not held");
}

static void member_rows(FILE *f, const json_t *s)
{
	const char *me = str_at(s, "name");
	size_t i;
	const json_t *m;
	json_array_foreach(at(s, "members"), i, m)
	{
		const char *name = str_at(m, "name");
		const json_t *p = find_named(at(s, "peers"), name);
		const json_t *r = find_named(at(s, "pg.replication"), name);
		bool self = same(name, me);
		char raft[96];
		if (self)
			snprintf(raft, sizeof raft, "%s, term %lld", text_at(s, "role"),
				 int_at(s, "term"));
		else if (same(name, str_at(s, "leader")))
			snprintf(raft, sizeof raft, "leader, term %lld", int_at(s, "term"));
		else if (p && json_is_integer(at(p, "last_ack_ms_ago"))) /* the leader's view */
			snprintf(raft, sizeof raft, "follower, ack %lld ms ago",
				 int_at(p, "last_ack_ms_ago"));
		else
			snprintf(raft, sizeof raft, "\xe2\x80\x94");
		const char *link = self ? "this node"
				   : p  ? (int_at(p, "links_up") > 0 ? "up" : "down")
					: "\xe2\x80\x94";
		struct parts lag = {.len = 0};
		if (p && at(p, "match_index"))
			part(&lag, "log %lld", int_at(s, "last_index") - int_at(p, "match_index"));
		if (r)
			part(&lag, "WAL %lld B", int_at(r, "replay_lag_bytes"));
		struct parts pg = {.len = 0};
		if (self && at(s, "pg")) {
			if (!true_at(s, "pg.managed"))
				part(&pg, "not managed");
			else if (true_at(s, "pg.answers"))
				part(&pg, "%s %s", text_at(s, "pg.role"), text_at(s, "pg.lsn"));
			else
				part(&pg, "does not answer");
		} else if (r) {
			part(&pg, "standby %s (%s)", text_at(r, "state"), text_at(r, "sync_state"));
		}
		fputs("<tr data-role=\"", f);
		http_page_escape(f, str_at(m, "role"));
		fputs("\">", f);
		cell(f, name ? name : "\xe2\x80\x94");
		cell(f, text_at(m, "role"));
		cell(f, raft);
		cell(f, link);
		cell(f, parts_text(&lag));
		cell(f, parts_text(&pg));
		cell(f, true_at(m, "sync") ? "SYNC" : "");
		cell(f, true_at(m, "critical_failing") ? "failing" : "ok");
		fputs("</tr>", f);
	}
}

static void master_section(FILE *f, const json_t *s)
{
	const char *mn = str_at(s, "master.node");
	if (mn)
		kv(f, "master", "%s (%s, since entry %lld)", mn, text_at(s, "master.reason"),
		   int_at(s, "master.since_index"));
	else
		kv(f, "master", "none");
	if (same(str_at(s, "acting"), "master"))
		kv(f, "FIP holder", "%s (this node, acting master)", text_at(s, "name"));
	else
		kv(f, "FIP holder", "%s", mn ? mn : "none");
	if (at(s, "acting")) {
		const char *step = str_at(s, "activation_step");
		if (step && *step)
			kv(f, "this node acts as", "%s (%s)", text_at(s, "acting"), step);
		else
			kv(f, "this node acts as", "%s", text_at(s, "acting"));
		kv(f, "why not master", "%s", text_at(s, "why_not_master"));
	}
	struct parts sync = {.len = 0};
	size_t i;
	const json_t *m;
	json_array_foreach(at(s, "members"), i, m) if (true_at(m, "sync"))
	    part(&sync, "%s", text_at(m, "name"));
	const char *why = str_at(s, "pg.sync_why");
	if (why && *why)
		kv(f, "SYNC", "%s: %s", parts_text(&sync), why);
	else
		kv(f, "SYNC", "%s", parts_text(&sync));
	if (true_at(s, "pg.answers"))
		kv(f, "synchronous_standby_names", "%s",
		   text_at(s, "pg.synchronous_standby_names"));
	else if (true_at(s, "pg.managed"))
		kv(f, "PostgreSQL", "%s", text_at(s, "pg.error"));
	/* who and why are known while the setting entry is the last operator's */
	if (true_at(s, "maintenance.on") && str_at(s, "maintenance.who"))
		kv(f, "maintenance", "on, by %s: %s", text_at(s, "maintenance.who"),
		   text_at(s, "maintenance.why"));
	else if (true_at(s, "maintenance.on"))
		kv(f, "maintenance", "on since entry %lld", int_at(s, "maintenance.since_index"));
	else
		kv(f, "maintenance", "off");
}

/* A takeover phase: "+N ms", or "—" when it did not happen (< 0). */
static void phase(struct parts *p, const char *name, long long ms)
{
	if (ms >= 0)
		part(p, "%s +%lld ms", name, ms);
	else
		part(p, "%s \xe2\x80\x94", name);
}

static void failover_section(FILE *f, const json_t *s)
{
	if (at(s, "last_election.ago_ms") && !json_is_null(at(s, "last_election.ago_ms")))
		kv(f, "last election", "%s, %lld ms ago", text_at(s, "last_election.reason"),
		   int_at(s, "last_election.ago_ms"));
	else
		kv(f, "last election", "%s", text_at(s, "last_election.reason"));
	if (at(s, "last_takeover")) {
		struct parts t = {.len = 0};
		if (int_at(s, "last_takeover.term") > 0) {
			part(&t, "term %lld: leading", int_at(s, "last_takeover.term"));
			phase(&t, "committed", int_at(s, "last_takeover.committed_after_ms"));
			phase(&t, "promoted", int_at(s, "last_takeover.promoted_after_ms"));
			phase(&t, "FIP", int_at(s, "last_takeover.fip_after_ms"));
			phase(&t, "ready", int_at(s, "last_takeover.ready_after_ms"));
			part(&t, "lease wait %lld ms", int_at(s, "last_takeover.lease_wait_ms"));
		}
		kv(f, "last takeover here", "%s", t.len ? t.buf : "none");
		kv(f, "fence", "%s", text_at(s, "last_takeover_fence"));
	}
	kv(f, "last refused entry", "%s",
	   str_at(s, "fsm.last_refusal") ? str_at(s, "fsm.last_refusal") : "none");
	if (at(s, "switchover")) {
		struct parts so = {.len = 0};
		part(&so, "%s", text_at(s, "switchover.state"));
		const char *to = str_at(s, "switchover.to"),
			   *detail = str_at(s, "switchover.detail");
		if (to && *to)
			part(&so, "to %s", to);
		if (detail && *detail)
			part(&so, "%s", detail);
		kv(f, "switchover", "%s", so.buf);
	}
}

static void traps_section(FILE *f, const json_t *s)
{
	const json_t *t = at(s, "traps");
	if (!json_is_object(t)) {
		kv(f, "pipeline", "none on this member");
		return;
	}
	kv(f, "pipeline", "%s, %s", true_at(t, "proposing") ? "proposing" : "not proposing",
	   true_at(t, "delivering") ? "delivering" : "not delivering");
	kv(f, "received", "%lld (taken %lld)", int_at(t, "received"), int_at(t, "taken"));
	kv(f, "committed", "%lld", int_at(t, "committed"));
	kv(f, "delivered", "%lld (undelivered %lld, backlog %s)", int_at(t, "delivered_entries"),
	   int_at(t, "undelivered"), true_at(t, "backlog_full") ? "full" : "not full");
	struct parts drops = {.len = 0};
	long long total = 0;
	const char *reason;
	const json_t *n;
	json_object_foreach((json_t *)at(t, "drops"), reason, n)
	{
		if (json_integer_value(n) > 0) {
			total += json_integer_value(n);
			part(&drops, "%s %lld", reason, (long long)json_integer_value(n));
		}
	}
	if (total)
		kv(f, "dropped", "%lld: %s", total, drops.buf);
	else
		kv(f, "dropped", "0");
	if (json_is_object(at(t, "sink")))
		kv(f, "sink", "%s %s: %s, %lld records sent, %lld errors", text_at(t, "sink.type"),
		   text_at(t, "sink.target"),
		   true_at(t, "sink.connected") ? "connected" : "not connected",
		   int_at(t, "sink.records_sent"), int_at(t, "sink.errors"));
	else
		kv(f, "sink", "none");
}

/* ---- the page ------------------------------------------------------------------ */

static const char page_style[] =
    "<style>"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em auto;max-width:72em;padding:0 1em;"
    "color:#222;background:#fafafa}"
    "h1{font-size:1.4em;margin:.2em 0}"
    "h2{font-size:1.1em;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #e4e4e4}"
    "th{background:#eee}tr[data-role=master]{background:#e3f2e3;font-weight:600}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:0}"
    "dt{color:#555}dd{margin:0;white-space:pre-wrap}"
    "#updated{color:#777;font-size:.9em;margin-top:1.5em}"
    "body[data-source=stale] #updated{color:#b00}"
    "</style>";

/* The script: the mirror of the C sections above; textContent only. */
static const char page_script[] =
    "<script>\n"
    "(()=>{\n"
    "const D='\\u2014',$=i=>document.getElementById(i),B=document.body;\n"
    "const v=x=>x===null||x===undefined||x===''?D:String(x);\n"
    "const g=(o,p)=>p.split('.').reduce((a,k)=>a&&typeof a==='object'?a[k]:undefined,o);\n"
    "const named=(a,n)=>(a||[]).find(e=>e.name===n);\n"
    "const ph=(n,ms)=>ms>=0?n+' +'+ms+' ms':n+' '+D;\n"
    "function rows(s){return (s.members||[]).map(m=>{\n"
    " const p=named(s.peers,m.name),r=named(g(s,'pg.replication'),m.name),me=m.name===s.name;\n"
    " const raft=me?v(s.role)+', term '+s.term:m.name===s.leader?'leader, term '+s.term:\n"
    "  p&&Number.isInteger(p.last_ack_ms_ago)?'follower, ack '+p.last_ack_ms_ago+' ms ago':D;\n"
    " const link=me?'this node':p?(p.links_up>0?'up':'down'):D;\n"
    " const lag=[],pg=[];\n"
    " if(p&&p.match_index!==undefined)lag.push('log '+(s.last_index-p.match_index));\n"
    " if(r)lag.push('WAL '+r.replay_lag_bytes+' B');\n"
    " if(me&&s.pg)pg.push(!s.pg.managed?'not managed':s.pg.answers?v(s.pg.role)+' "
    "'+v(s.pg.lsn):'does not answer');\n"
    " else if(r)pg.push('standby '+v(r.state)+' ('+v(r.sync_state)+')');\n"
    " return {role:m.role,c:[v(m.name),v(m.role),raft,link,lag.join(', ')||D,pg.join(', ')||D,\n"
    "  m.sync?'SYNC':'',m.critical_failing?'failing':'ok']};});}\n"
    "function master(s){const k=[],mn=g(s,'master.node');\n"
    " k.push(['master',mn?mn+' ('+v(g(s,'master.reason'))+', since entry "
    "'+g(s,'master.since_index')+')':'none']);\n"
    " k.push(['FIP holder',s.acting==='master'?v(s.name)+' (this node, acting "
    "master)':mn||'none']);\n"
    " if('acting' in s){k.push(['this node acts as',v(s.acting)+(s.activation_step?' "
    "('+s.activation_step+')':'')]);\n"
    "  k.push(['why not master',v(s.why_not_master)]);}\n"
    " const sy=(s.members||[]).filter(m=>m.sync).map(m=>v(m.name)).join(', "
    "')||D,w=g(s,'pg.sync_why');\n"
    " k.push(['SYNC',w?sy+': '+w:sy]);\n"
    " if(g(s,'pg.answers'))k.push(['synchronous_standby_names',v(g(s,'pg.synchronous_standby_names'"
    "))]);\n"
    " else if(g(s,'pg.managed'))k.push(['PostgreSQL',v(g(s,'pg.error'))]);\n"
    " const mt=s.maintenance||{};k.push(['maintenance',!mt.on?'off':mt.who!=null?'on, by "
    "'+v(mt.who)+': "
    "'+v(mt.why):'on since entry '+mt.since_index]);\n"
    " return k;}\n"
    "function failover(s){const k=[],e=s.last_election||{},t=s.last_takeover;\n"
    " k.push(['last election',e.ago_ms!=null?v(e.reason)+', '+e.ago_ms+' ms ago':v(e.reason)]);\n"
    " if(t){const p=[];if(t.term>0){p.push('term '+t.term+': "
    "leading',ph('committed',t.committed_after_ms),\n"
    "  ph('promoted',t.promoted_after_ms),ph('FIP',t.fip_after_ms),ph('ready',t.ready_after_ms),\n"
    "  'lease wait '+t.lease_wait_ms+' ms');}\n"
    "  k.push(['last takeover here',p.join(', ')||'none'],['fence',v(s.last_takeover_fence)]);}\n"
    " k.push(['last refused entry',g(s,'fsm.last_refusal')||'none']);\n"
    " const so=s.switchover;if(so)k.push(['switchover',[v(so.state)].concat(so.to?['to "
    "'+so.to]:[],so.detail?[so.detail]:[]).join(', ')]);\n"
    " return k;}\n"
    "function traps(s){const t=s.traps,k=[];if(!t||typeof t!=='object')return [['pipeline','none "
    "on "
    "this member']];\n"
    " k.push(['pipeline',(t.proposing?'proposing':'not proposing')+', "
    "'+(t.delivering?'delivering':'not "
    "delivering')]);\n"
    " k.push(['received',t.received+' (taken '+t.taken+')'],['committed',String(t.committed)]);\n"
    " k.push(['delivered',t.delivered_entries+' (undelivered '+t.undelivered+', backlog "
    "'+(t.backlog_full?'full':'not full')+')']);\n"
    " const d=Object.entries(t.drops||{}).filter(([,n])=>n>0),n=d.reduce((a,[,x])=>a+x,0);\n"
    " k.push(['dropped',n?n+': '+d.map(([r,x])=>r+' '+x).join(', '):'0']);\n"
    " const sk=t.sink;k.push(['sink',sk&&typeof sk==='object'?v(sk.type)+' '+v(sk.target)+': "
    "'+(sk.connected?'connected':'not connected')+', '+sk.records_sent+' records sent, "
    "'+sk.errors+' "
    "errors':'none']);\n"
    " return k;}\n"
    "function dl(id,k){const d=$(id);d.replaceChildren();for(const[a,b]of k){\n"
    " const "
    "t=document.createElement('dt'),e=document.createElement('dd');t.textContent=a;e.textContent=b;"
    "d.append(t,e);}}\n"
    "let n=0;\n"
    "function render(s){$('cluster').textContent=v(s.cluster);\n"
    " $('summary').textContent=v(s.name)+' ('+v(s.kind)+') \\u00b7 raft '+v(s.role)+', term "
    "'+s.term+\n"
    "  ' \\u00b7 leader '+(s.leader||'none')+' \\u00b7 lease '+(g(s,'lease.valid')?'held':'not "
    "held');\n"
    " const b=$('members');b.replaceChildren();\n"
    " for(const r of rows(s)){const tr=b.insertRow();tr.dataset.role=r.role||'';\n"
    "  for(const c of r.c)tr.insertCell().textContent=c;}\n"
    " dl('master',master(s));dl('failover',failover(s));dl('traps',traps(s));\n"
    " B.dataset.source='script';B.dataset.renders=++n;\n"
    " $('updated').textContent='Updated from /status at '+new Date().toLocaleTimeString()+' (every "
    "second).';}\n"
    "function tick(){fetch('/status',{cache:'no-store'}).then(r=>{if(!r.ok)throw new Error('HTTP "
    "'+r.status);return r.json();})\n"
    " .then(render).catch(e=>{B.dataset.source='stale';\n"
    "  $('updated').textContent='/status did not answer ('+e.message+'): the figures above are "
    "old.';});}\n"
    "tick();setInterval(tick,1000);\n"
    "})();\n"
    "</script>";

int http_page_write(FILE *f, const json_t *s)
{
	if (!json_is_object(s))
		return DUET_EINVAL;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<title>duet ",
	      f);
	textf(f, "%s: %s", text_at(s, "cluster"), text_at(s, "name"));
	fputs("</title>"
	      /* without the script, the snapshot is asked again every 5 s */
	      "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>",
	      f);
	fputs(page_style, f);
	fputs("</head>\n<body data-source=\"server\">\n<h1>duet <span id=\"cluster\">", f);
	textf(f, "%s", text_at(s, "cluster"));
	fputs("</span></h1>\n<p id=\"summary\">", f);
	summary(f, s);
	fputs("</p>\n<h2>Members</h2>\n<table><thead><tr><th>member</th><th>role</th>"
	      "<th>raft</th><th>link</th><th>lag</th><th>PostgreSQL</th><th>SYNC</th>"
	      "<th>checks</th></tr></thead><tbody id=\"members\">",
	      f);
	member_rows(f, s);
	fputs("</tbody></table>\n<h2>Master</h2>\n<dl id=\"master\">", f);
	master_section(f, s);
	fputs("</dl>\n<h2>Last failover decisions</h2>\n<dl id=\"failover\">", f);
	failover_section(f, s);
	fputs("</dl>\n<h2>Traps</h2>\n<dl id=\"traps\">", f);
	traps_section(f, s);
	fputs("</dl>\n<p id=\"updated\">", f);
	textf(f,
	      "Snapshot from %s, up %lld s; refreshed from /status every second while "
	      "JavaScript runs, else every 5 s.",
	      text_at(s, "name"), int_at(s, "uptime_ms") / 1000);
	fputs("</p>\n", f);
	fputs(page_script, f);
	fputs("\n</body></html>\n", f);
	return ferror(f) ? -EIO : 0;
}
