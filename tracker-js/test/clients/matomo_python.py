"""Tracks with the Python `matomo` package (a port of Matomo's official PHP tracker) against
spurlos: page views, an event, a site search, a goal, and the same again as one bulk request.

Usage: python3 matomo_python.py BASE_URL SITE_ID ADMIN_TOKEN
"""
import sys

import matomo
from matomo.request import Request

base, site_id, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")


def tracker(path, ip):
    request = Request({
        "HTTPS": False,
        "HTTP_HOST": "python.test",
        "HTTP_USER_AGENT": UA,
        "HTTP_ACCEPT_LANGUAGE": "de-DE",
        "REMOTE_ADDR": ip,
        "REQUEST_URI": path,
        "QUERY_STRING": "",
    })
    t = matomo.Matomo(request, site_id, base + "/matomo.php")
    t.set_url("https://python.test" + path)
    t.set_token_auth(token)
    t.set_ip(ip)
    return t


def check(response):
    status = getattr(response, "status_code", 200)
    if status not in (200, 204):
        raise SystemExit(f"unexpected answer {status}: {getattr(response, 'text', '')}")


t = tracker("/python/start", "192.0.2.10")
check(t.do_track_page_view("Start"))
check(t.do_track_event("Video", "Play", "Intro", 3))
check(t.do_track_site_search("boots", "shop", 12))
check(t.do_track_goal(4, 25.5))

bulk = tracker("/python/bulk", "198.51.100.20")
bulk.enable_bulk_tracking()
# matomo 1.0.0 cannot add its own `ua` to stored bulk requests (it calls urlencode on a
# string, and the same for `lang`), so the User-Agent goes in as a custom tracking parameter.
bulk.user_agent = ""
bulk.accept_language = ""


def with_ua():
    bulk.set_custom_tracking_parameter("ua", UA)


with_ua()
bulk.do_track_page_view("Bulk one")
bulk.set_url("https://python.test/python/bulk-two")
with_ua()
bulk.do_track_page_view("Bulk two")
with_ua()
bulk.do_track_event("Video", "Pause")
response = bulk.do_bulk_track()
check(response)
answer = response.json()
if answer.get("status") != "success" or answer.get("tracked") != 3 or answer.get("invalid") != 0:
    raise SystemExit(f"unexpected bulk answer: {answer}")
print("python matomo client: done")
