"""Which legal dongs (법정동) make up each administrative dong (행정동) the console labels.

Boundary data is published per legal dong (8-digit codes, e.g. ``11110101`` 청운동); the
registry places households in administrative dongs (10-digit 행정기관코드, e.g.
``1111051500`` 청운효자동), which are groups of legal dongs. This table is the grouping
for Jongno-gu, after the 행정동–법정동 correspondence of the 행정표준코드. A legal dong
that a boundary redraw cut between two administrative dongs is given to the one holding
most of it; a legal dong cut into several administrative dongs with no majority (창신동,
숭인동) is in ``SHARED``: the map draws it once, uncoloured, and lists its dongs below.
"""

from __future__ import annotations

# A data table: one administrative dong a line reads better than one code a line.
# fmt: off
LEGAL_DONGS: dict[str, tuple[str, ...]] = {
    # 청운효자동: 청운 신교 궁정 효자 창성 통의 통인 누상 누하 옥인
    "1111051500": (
        "11110101", "11110102", "11110103", "11110104", "11110105", "11110106", "11110108",
        "11110109", "11110110", "11110111",
    ),
    # 사직동: 적선 체부 필운 내자 사직 도렴 당주 내수 세종로 신문로1·2가
    "1111053000": (
        "11110107", "11110112", "11110113", "11110114", "11110115", "11110116", "11110117",
        "11110118", "11110119", "11110120", "11110121",
    ),
    # 삼청동: 팔판 삼청 안국 소격 화동 사간 송현
    "1111054000": (
        "11110139", "11110140", "11110141", "11110142", "11110143", "11110144", "11110145",
    ),
    # 부암동: 부암 홍지 신영
    "1111055000": ("11110184", "11110185", "11110186"),
    # 평창동: 구기 평창
    "1111056000": ("11110182", "11110183"),
    # 무악동
    "1111057000": ("11110187",),
    # 교남동: 교남 평동 송월 홍파 교북 행촌
    "1111058000": ("11110176", "11110177", "11110178", "11110179", "11110180", "11110181"),
    # 가회동: 가회 재동 계동 원서
    "1111060000": ("11110146", "11110147", "11110148", "11110149"),
    # 종로1·2·3·4가동: 청진 … 종로4가 (27 legal dongs)
    "1111061500": (
        "11110122", "11110123", "11110124", "11110125", "11110126", "11110127", "11110128",
        "11110129", "11110130", "11110131", "11110132", "11110133", "11110134", "11110135",
        "11110136", "11110137", "11110138", "11110150", "11110151", "11110152", "11110153",
        "11110154", "11110155", "11110156", "11110157", "11110159", "11110161",
    ),
    # 종로5·6가동: 예지 연지 효제 종로5가 종로6가
    "1111063000": ("11110158", "11110160", "11110162", "11110163", "11110164"),
    # 이화동: 이화 연건 충신 동숭
    "1111064000": ("11110165", "11110166", "11110167", "11110168"),
    # 혜화동: 혜화 명륜1·2·3·4가
    "1111065000": ("11110169", "11110170", "11110171", "11110172", "11110173"),
}
# fmt: on

# Legal dongs split between several administrative dongs, with the dongs they hold.
SHARED: dict[str, tuple[str, ...]] = {
    "11110174": ("1111067000", "1111068000", "1111069000"),  # 창신동: 창신1·2·3동
    "11110175": ("1111070000", "1111071000"),  # 숭인동: 숭인1·2동
}

SHARED_NAMES: dict[str, tuple[str, str]] = {
    "11110174": ("창신동", "Changsin-dong"),
    "11110175": ("숭인동", "Sungin-dong"),
}
