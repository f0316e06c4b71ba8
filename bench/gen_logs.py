#!/usr/bin/env python3
"""Writes a reproducible vhost_combined access log for the log benchmarks (bench/logs.sh):
LINES lines over SITES sites (site1.example ... with ports 80/443) and DAYS days from
2024-06-01, in time order. The mix is a hosting server's: page views, their assets (CSS, JS,
images), bots, 404s, redirects, HEAD and POST requests, downloads; visitors from a pool of
addresses and User-Agents, referrers from search engines, social sites and the sites
themselves.

Usage: bench/gen_logs.py LINES SITES DAYS OUT
"""
import random
import sys
import time

lines, sites, days, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(20241203)
start = int(time.mktime((2024, 6, 1, 0, 0, 0, 0, 0, 0))) - time.timezone
span = days * 86400
agents = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
]
bots = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
]
referrers = ["-", "-", "-", "https://www.google.com/", "https://duckduckgo.com/",
             "https://www.bing.com/", "https://t.co/abc", "https://www.facebook.com/"]
pages = ["/", "/about", "/contact", "/blog/", "/pricing", "/shop/cart", "/impressum"] + \
    [f"/blog/post-{i}" for i in range(200)] + [f"/products/item-{i}" for i in range(300)]
assets = ["/css/style.css", "/js/app.js", "/img/logo.png", "/img/hero.jpg", "/favicon.ico",
          "/fonts/inter.woff2", "/js/vendor.js"]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
visitors = [(f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
             rng.choice(agents)) for _ in range(60000)]


def stamp(ts):
    t = time.gmtime(ts)
    return f"{t.tm_mday:02d}/{months[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


with open(out, "w") as f:
    step = span / lines
    ts = float(start)
    written = 0
    while written < lines:
        site = f"site{int(rng.paretovariate(1.2)) % sites + 1}.example"
        port = rng.choice((80, 443, 443, 443))
        ip, ua = rng.choice(visitors)
        r = rng.random()
        referrer = rng.choice(referrers)
        if r < 0.05:
            ua, method, path, status, size = rng.choice(bots), "GET", rng.choice(pages), 200, rng.randint(2000, 40000)
        elif r < 0.30:
            method, path, status, size = "GET", rng.choice(pages), rng.choice((200, 200, 200, 200, 304)), rng.randint(2000, 40000)
            if rng.random() < 0.1:
                path += "?utm_source=newsletter&utm_medium=email"
        elif r < 0.88:
            method, path, status, size = "GET", rng.choice(assets), rng.choice((200, 304)), rng.randint(200, 300000)
            referrer = f"https://{site}/"
        elif r < 0.92:
            method, path, status, size = "GET", f"/missing-{rng.randint(0, 50)}", 404, 512
        elif r < 0.95:
            method, path, status, size = "GET", "/old-page", 301, 0
        elif r < 0.97:
            method, path, status, size = "POST", "/contact", 200, 1500
        elif r < 0.98:
            method, path, status, size = "HEAD", "/", 200, 0
        else:
            method, path, status, size = "GET", f"/files/doc-{rng.randint(0, 30)}.pdf", 200, rng.randint(10**5, 10**7)
        ts += step
        size_s = "-" if size == 0 else str(size)
        f.write(f'{site}:{port} {ip} - - [{stamp(int(ts))}] "{method} {path} HTTP/1.1" {status} {size_s} "{referrer}" "{ua}"\n')
        written += 1
