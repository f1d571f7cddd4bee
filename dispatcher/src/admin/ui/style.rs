//! The UI's one stylesheet, inlined in every page: no external assets, readable on a laptop
//! screen at night, the required action and destructive buttons easy to tell apart.

pub const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f4f6f8}
header{background:#1f3a56;color:#fff;padding:0 24px;display:flex;align-items:center;gap:24px;flex-wrap:wrap}
header .brand{font-weight:600;padding:12px 0}
header nav{display:flex;gap:4px;flex:1;flex-wrap:wrap}
header nav a{color:#d7e3ef;text-decoration:none;padding:14px 12px;border-bottom:3px solid transparent}
header nav a:hover{color:#fff}
header nav a.active{color:#fff;border-bottom-color:#f0b429;font-weight:600}
header .who{display:flex;align-items:center;gap:10px;font-size:13px;color:#d7e3ef}
header .who button{background:transparent;border:1px solid #8fa8c0;color:#fff;padding:4px 10px}
main{max-width:1280px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:4px 0 16px}
h2{font-size:17px;margin:24px 0 8px}
a{color:#1a5fa8}
.flash{padding:10px 14px;border-radius:6px;margin:0 0 16px;font-weight:500}
.flash.ok{background:#e3f4e8;border:1px solid #8cc79e;color:#1d5a2c}
.flash.err{background:#fdecea;border:1px solid #e5a39b;color:#8a1f11}
.panel{background:#fff;border:1px solid #d9dfe5;border-radius:8px;padding:16px;margin-bottom:16px}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d9dfe5;border-radius:8px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #e6eaee;vertical-align:top}
th{background:#eef2f5;font-size:13px;text-transform:uppercase;letter-spacing:.03em;color:#4a5a6a}
tr:last-child td{border-bottom:none}
td.msg{max-width:420px;word-break:break-word}
.action{background:#fff6dc;border-left:4px solid #f0b429;padding:6px 10px;font-weight:600;color:#5b4100}
.action.none{background:#f1f3f5;border-left-color:#b8c2cc;font-weight:400;color:#4a5a6a}
.muted{color:#667788;font-size:13px}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#e6eaee}
.tag.warn{background:#fdecea;color:#8a1f11}
.tag.good{background:#e3f4e8;color:#1d5a2c}
form.inline{display:inline}
form.filters{display:flex;gap:12px;align-items:flex-end;flex-wrap:wrap}
label{display:flex;flex-direction:column;font-size:13px;color:#4a5a6a;gap:3px}
input,select,textarea{font:inherit;padding:6px 8px;border:1px solid #b8c2cc;border-radius:5px;background:#fff;color:#1d2733}
button,.button{font:inherit;padding:6px 14px;border-radius:5px;border:1px solid #1a5fa8;background:#1a5fa8;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#1a5fa8}
button.danger{background:#fff;color:#b42318;border-color:#b42318}
.actions{display:flex;gap:6px;flex-wrap:wrap}
.pager{display:flex;gap:14px;align-items:center;margin:12px 0;flex-wrap:wrap;font-size:14px}
.pager .sizes a,.pager .sizes strong{margin-left:6px}
.empty{background:#fff;border:1px dashed #b8c2cc;border-radius:8px;padding:24px;text-align:center;color:#4a5a6a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px}
.login{max-width:380px;margin:80px auto;background:#fff;border:1px solid #d9dfe5;border-radius:8px;padding:24px}
.login form{display:flex;flex-direction:column;gap:12px}
"#;
