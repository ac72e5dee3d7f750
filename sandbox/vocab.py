"""Fixed vocabularies of the sandbox world: places, job families, skills, titles, nicknames, sources.

Plain data, no logic. Lists (never sets) so that every draw is reproducible for a seed.
"""
from __future__ import annotations

# --- places -------------------------------------------------------------------------------------
# country code -> (share of people, full name, name-locales with weights)
COUNTRIES = {
    "US": (0.75, "United States", [("en_US", 0.80), ("es_MX", 0.12), ("en_IN", 0.08)]),
    "UK": (0.07, "United Kingdom", [("en_GB", 0.88), ("en_IN", 0.12)]),
    "DE": (0.05, "Germany", [("de_DE", 1.0)]),
    "FR": (0.04, "France", [("fr_FR", 1.0)]),
    "CA": (0.05, "Canada", [("en_CA", 0.75), ("fr_FR", 0.25)]),
    "IN": (0.04, "India", [("en_IN", 1.0)]),
}
# ISO alpha-2 as vendors write it (UK is GB in ISO)
ISO2 = {"US": "US", "UK": "GB", "DE": "DE", "FR": "FR", "CA": "CA", "IN": "IN"}
COUNTRY_VARIANTS = {
    "US": ["United States", "USA", "US", "United States of America"],
    "UK": ["United Kingdom", "UK", "GB", "England"],
    "DE": ["Germany", "Deutschland", "DE"],
    "FR": ["France", "FR"],
    "CA": ["Canada", "CA"],
    "IN": ["India", "IN"],
}

# (city, region full, region short, country, weight, landline area codes)
CITIES = [
    ("San Francisco", "California", "CA", "US", 9, ["415", "628"]),
    ("San Jose", "California", "CA", "US", 4, ["408"]),
    ("Los Angeles", "California", "CA", "US", 6, ["213", "310"]),
    ("San Diego", "California", "CA", "US", 3, ["619"]),
    ("Seattle", "Washington", "WA", "US", 6, ["206"]),
    ("Portland", "Oregon", "OR", "US", 3, ["503"]),
    ("Austin", "Texas", "TX", "US", 5, ["512"]),
    ("Dallas", "Texas", "TX", "US", 4, ["214"]),
    ("Houston", "Texas", "TX", "US", 3, ["713"]),
    ("Denver", "Colorado", "CO", "US", 4, ["303"]),
    ("Chicago", "Illinois", "IL", "US", 6, ["312"]),
    ("Boston", "Massachusetts", "MA", "US", 5, ["617"]),
    ("New York", "New York", "NY", "US", 10, ["212", "646"]),
    ("Brooklyn", "New York", "NY", "US", 3, ["718"]),
    ("Atlanta", "Georgia", "GA", "US", 4, ["404"]),
    ("Miami", "Florida", "FL", "US", 3, ["305"]),
    ("Washington", "District of Columbia", "DC", "US", 3, ["202"]),
    ("Philadelphia", "Pennsylvania", "PA", "US", 3, ["215"]),
    ("Pittsburgh", "Pennsylvania", "PA", "US", 2, ["412"]),
    ("Minneapolis", "Minnesota", "MN", "US", 2, ["612"]),
    ("Raleigh", "North Carolina", "NC", "US", 2, ["919"]),
    ("Salt Lake City", "Utah", "UT", "US", 2, ["801"]),
    ("Phoenix", "Arizona", "AZ", "US", 2, ["602"]),
    ("Nashville", "Tennessee", "TN", "US", 2, ["615"]),
    ("London", "England", "ENG", "UK", 10, ["20"]),
    ("Manchester", "England", "ENG", "UK", 3, ["161"]),
    ("Edinburgh", "Scotland", "SCT", "UK", 2, ["131"]),
    ("Bristol", "England", "ENG", "UK", 2, ["117"]),
    ("Berlin", "Berlin", "BE", "DE", 6, ["30"]),
    ("München", "Bayern", "BY", "DE", 4, ["89"]),
    ("Hamburg", "Hamburg", "HH", "DE", 3, ["40"]),
    ("Frankfurt am Main", "Hessen", "HE", "DE", 2, ["69"]),
    ("Köln", "Nordrhein-Westfalen", "NW", "DE", 2, ["221"]),
    ("Paris", "Île-de-France", "IDF", "FR", 8, ["1"]),
    ("Lyon", "Auvergne-Rhône-Alpes", "ARA", "FR", 3, ["4"]),
    ("Toulouse", "Occitanie", "OCC", "FR", 2, ["5"]),
    ("Nantes", "Pays de la Loire", "PDL", "FR", 2, ["2"]),
    ("Toronto", "Ontario", "ON", "CA", 6, ["416", "647"]),
    ("Vancouver", "British Columbia", "BC", "CA", 4, ["604"]),
    ("Montréal", "Quebec", "QC", "CA", 4, ["514"]),
    ("Ottawa", "Ontario", "ON", "CA", 2, ["613"]),
    ("Bengaluru", "Karnataka", "KA", "IN", 6, ["80"]),
    ("Hyderabad", "Telangana", "TG", "IN", 3, ["40"]),
    ("Pune", "Maharashtra", "MH", "IN", 3, ["20"]),
    ("Mumbai", "Maharashtra", "MH", "IN", 3, ["22"]),
]
# spellings people actually type for the same place
CITY_VARIANTS = {
    "New York": ["New York City", "NYC", "new york"],
    "München": ["Munich", "Muenchen"],
    "Köln": ["Cologne", "Koeln"],
    "Montréal": ["Montreal"],
    "Bengaluru": ["Bangalore"],
    "San Francisco": ["SF", "San Francisco Bay Area"],
    "Frankfurt am Main": ["Frankfurt"],
    "Washington": ["Washington DC", "Washington, D.C."],
}

# --- job families ---------------------------------------------------------------------------------
FAMILIES = {
    # family: (share, department, base titles, skills)
    "engineering": (0.30, "Engineering",
                    ["Software Engineer", "Backend Engineer", "Frontend Engineer", "Full Stack Engineer",
                     "Site Reliability Engineer", "DevOps Engineer", "Mobile Engineer"],
                    ["python", "java", "go", "typescript", "javascript", "react", "node.js", "kubernetes", "aws",
                     "gcp", "postgresql", "rust", "c++", "docker", "terraform", "graphql", "microservices",
                     "kafka", "redis", "swift", "kotlin", "ci/cd", "linux", "distributed systems"]),
    "data": (0.12, "Data",
             ["Data Analyst", "Data Scientist", "Data Engineer", "Analytics Engineer", "Machine Learning Engineer"],
             ["sql", "python", "spark", "dbt", "airflow", "tableau", "looker", "machine learning", "statistics",
              "pandas", "snowflake", "r", "pytorch", "scikit-learn", "bigquery", "a/b testing", "nlp",
              "data modeling", "etl", "power bi"]),
    "design": (0.07, "Design",
               ["Product Designer", "UX Designer", "UI Designer", "UX Researcher", "Visual Designer"],
               ["figma", "sketch", "user research", "prototyping", "design systems", "ui design", "ux writing",
                "illustration", "accessibility", "interaction design", "usability testing", "adobe xd"]),
    "product": (0.08, "Product",
                ["Product Manager", "Technical Product Manager", "Product Owner", "Growth Product Manager"],
                ["roadmapping", "user research", "a/b testing", "sql", "agile", "jira", "stakeholder management",
                 "product strategy", "product analytics", "scrum", "okrs", "go-to-market"]),
    "sales": (0.17, "Sales",
              ["Account Executive", "Sales Development Representative", "Account Manager", "Sales Engineer",
               "Customer Success Manager"],
              ["salesforce", "b2b sales", "saas", "prospecting", "negotiation", "account management", "hubspot",
               "pipeline management", "enterprise sales", "cold calling", "meddic", "forecasting", "gong"]),
    "marketing": (0.10, "Marketing",
                  ["Marketing Manager", "Content Marketer", "Growth Marketer", "Product Marketing Manager",
                   "Demand Generation Manager"],
                  ["seo", "content marketing", "hubspot", "google analytics", "paid social", "email marketing",
                   "brand strategy", "copywriting", "marketing automation", "marketo", "sem", "events"]),
    "operations": (0.09, "Operations",
                   ["Operations Manager", "Business Operations Analyst", "Program Manager", "Project Manager",
                    "Recruiting Coordinator"],
                   ["project management", "process improvement", "excel", "supply chain", "vendor management",
                    "six sigma", "logistics", "asana", "sql", "budgeting", "change management"]),
    "finance": (0.07, "Finance",
                ["Financial Analyst", "Accountant", "Controller", "FP&A Analyst", "Revenue Accountant"],
                ["excel", "financial modeling", "fp&a", "accounting", "gaap", "ifrs", "netsuite", "budgeting",
                 "forecasting", "sql", "audit", "tax"]),
}
# seniority: (share, years range, title pattern)
SENIORITY = {
    "junior": (0.18, (0, 2), "Junior {t}"),
    "mid": (0.32, (2, 6), "{t}"),
    "senior": (0.30, (5, 12), "Senior {t}"),
    "lead": (0.13, (8, 16), "Lead {t}"),
    "director": (0.07, (12, 26), "Director of {d}"),
}
SENIORITY_ORDER = ["junior", "mid", "senior", "lead", "director"]

# --- emails ----------------------------------------------------------------------------------------
PERSONAL_DOMAINS = {
    "US": [("gmail.com", 55), ("yahoo.com", 14), ("outlook.com", 10), ("hotmail.com", 9), ("icloud.com", 8),
           ("aol.com", 2), ("protonmail.com", 2)],
    "UK": [("gmail.com", 45), ("yahoo.co.uk", 14), ("hotmail.co.uk", 14), ("outlook.com", 12),
           ("btinternet.com", 8), ("icloud.com", 7)],
    "DE": [("gmail.com", 35), ("gmx.de", 22), ("web.de", 22), ("t-online.de", 9), ("outlook.de", 7),
           ("posteo.de", 5)],
    "FR": [("gmail.com", 45), ("orange.fr", 15), ("free.fr", 12), ("hotmail.fr", 12), ("laposte.net", 8),
           ("yahoo.fr", 8)],
    "CA": [("gmail.com", 55), ("hotmail.com", 12), ("outlook.com", 10), ("yahoo.ca", 10), ("icloud.com", 8),
           ("rogers.com", 5)],
    "IN": [("gmail.com", 70), ("yahoo.co.in", 12), ("rediffmail.com", 8), ("outlook.com", 10)],
}
PLUS_TAGS = ["jobs", "careers", "recruiting", "hirewire", "work", "apply"]

# --- nicknames (the common, unambiguous ones; the `nicknames` package adds many odd pairs) ----------
NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"], "Richard": ["Rick", "Dick", "Rich"],
    "James": ["Jim", "Jimmy", "Jamie"], "John": ["Jack", "Johnny"], "Michael": ["Mike", "Mikey"],
    "Christopher": ["Chris"], "Matthew": ["Matt"], "Joseph": ["Joe", "Joey"], "Thomas": ["Tom", "Tommy"],
    "Daniel": ["Dan", "Danny"], "Anthony": ["Tony"], "Steven": ["Steve"], "Stephen": ["Steve"],
    "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"], "Kenneth": ["Ken", "Kenny"], "Edward": ["Ed", "Ted", "Eddie"],
    "Timothy": ["Tim"], "Jeffrey": ["Jeff"], "Benjamin": ["Ben"], "Samuel": ["Sam"], "Gregory": ["Greg"],
    "Alexander": ["Alex"], "Nicholas": ["Nick"], "Jonathan": ["Jon"], "Patrick": ["Pat"], "Raymond": ["Ray"],
    "Lawrence": ["Larry"], "Gerald": ["Jerry"], "Douglas": ["Doug"], "Peter": ["Pete"], "Zachary": ["Zach"],
    "Nathaniel": ["Nate"], "Nathan": ["Nate"], "Frederick": ["Fred"], "Charles": ["Charlie", "Chuck"],
    "Katherine": ["Kate", "Katie", "Kathy"], "Catherine": ["Cathy", "Kate"], "Kathryn": ["Kate", "Kathy"],
    "Elizabeth": ["Liz", "Beth", "Lizzie"], "Jennifer": ["Jen", "Jenny"], "Jessica": ["Jess"],
    "Margaret": ["Maggie", "Peggy", "Meg"], "Patricia": ["Pat", "Patty", "Trish"], "Susan": ["Sue"],
    "Deborah": ["Deb", "Debbie"], "Rebecca": ["Becky", "Becca"], "Victoria": ["Vicky", "Tori"],
    "Christina": ["Chris", "Tina"], "Christine": ["Chris"], "Samantha": ["Sam"], "Alexandra": ["Alex", "Sasha"],
    "Abigail": ["Abby"], "Jacqueline": ["Jackie"], "Kimberly": ["Kim"], "Pamela": ["Pam"],
    "Melissa": ["Mel"], "Stephanie": ["Steph"], "Cynthia": ["Cindy"], "Allison": ["Ally"], "Amanda": ["Mandy"],
    "Natalie": ["Nat"], "Theresa": ["Terry", "Tess"], "Dorothy": ["Dot"], "Jacob": ["Jake"],
    "Johannes": ["Hannes"], "Wolfgang": ["Wolf"], "Friedrich": ["Fritz"], "Alexandre": ["Alex"],
    "Guillaume": ["Will"], "Francisco": ["Paco", "Pancho"], "José": ["Pepe"], "Guadalupe": ["Lupe"],
}
# plain spellings that people (or their keyboards) also write with accents
ACCENTED = {"Jose": "José", "Maria": "María", "Rene": "René", "Andre": "André", "Zoe": "Zoë", "Noel": "Noël",
            "Chloe": "Chloé", "Raphael": "Raphaël", "Helene": "Hélène", "Jerome": "Jérôme", "Angel": "Ángel"}
# German transliterations (ü -> ue) that ASCII systems use instead of dropping the dots
GERMAN_FOLD = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}

# --- employers ---------------------------------------------------------------------------------------
COMPANY_STEMS = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Cyberdyne", "Soylent",
    "Tyrell", "Vandelay", "Pied Piper", "Aperture", "Massive Dynamic", "Oscorp", "Gringotts", "Monarch",
    "Blue Sun", "Virtucon", "Nakatomi", "Dunder", "Sterling", "Prestige", "Bluth", "Gekko", "Oceanic",
    "Tessier", "Zorg", "Ollivander", "Krusty", "Spacely", "Cogswell", "Slate", "Ajax", "Northwind",
    "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Adventure Works", "Litware", "Proseware", "Lucerne",
    "Coho", "Fourth Coffee", "Alpine Ski", "Trey Research", "Woodgrove", "Margie", "Humongous",
]
COMPANY_SUFFIXES = ["Labs", "Systems", "Technologies", "Software", "Analytics", "Cloud", "Health", "Financial",
                    "Logistics", "Media", "Robotics", "Networks", "Data", "AI", "Commerce", "Energy", "Bio",
                    "Security", "Payments", "Mobility"]
COMPANY_FORMS = {"US": ["Inc.", "", "LLC", "Corp."], "UK": ["Ltd", "Ltd.", "plc"], "DE": ["GmbH", "AG", "SE"],
                 "FR": ["SAS", "SA"], "CA": ["Inc.", "Ltd."], "IN": ["Pvt Ltd", "Ltd"]}

# --- the hiring company -------------------------------------------------------------------------------
COMPANY_DOMAIN = "warmpool.example"
OFFICES = [  # (office name, city, country)
    ("San Francisco HQ", "San Francisco, CA", "US"), ("New York", "New York, NY", "US"),
    ("Austin", "Austin, TX", "US"), ("Remote - US", "Remote, United States", "US"),
    ("London", "London, United Kingdom", "UK"), ("Berlin", "Berlin, Germany", "DE"),
    ("Toronto", "Toronto, ON, Canada", "CA"),
]

# ATS sources: (name, Greenhouse type name, channel for conversion rates, which pool source feeds it)
SOURCE_TYPES = ["Job Boards", "Referrals", "Agencies", "Prospecting", "Company Marketing", "Other"]
ATS_SOURCES = [
    ("LinkedIn (Job Posting)", "Job Boards", "inbound", None),
    ("Indeed", "Job Boards", "inbound", None),
    ("Glassdoor", "Job Boards", "inbound", None),
    ("HireWire", "Job Boards", "inbound", "hirewire"),
    ("Employee Referral", "Referrals", "referral", "referral"),
    ("EuroCV Agency Network", "Agencies", "agency", "eurocv"),
    ("Northstar Staffing", "Agencies", "agency", None),
    ("LinkedIn (Prospecting)", "Prospecting", "sourced", None),
    ("TalentDB Resume Search", "Prospecting", "sourced", "talentdb"),
    ("GitHub (Prospecting)", "Prospecting", "sourced", None),
    ("Company Careers Page", "Company Marketing", "inbound", None),
    ("Talent Network", "Company Marketing", "inbound", "talent_network"),
    ("Career Fair", "Company Marketing", "inbound", None),
    ("Other", "Other", "inbound", None),
]
# channel mix of applications that no earlier pool record explains, and each source's share in it
CHANNEL_MIX = {"inbound": 0.83, "sourced": 0.13, "referral": 0.025, "agency": 0.015}
SOURCE_WEIGHTS = {
    "LinkedIn (Job Posting)": 30, "Indeed": 22, "Glassdoor": 8, "HireWire": 10, "Company Careers Page": 22,
    "Talent Network": 3, "Career Fair": 2, "Other": 3, "LinkedIn (Prospecting)": 60, "TalentDB Resume Search": 20,
    "GitHub (Prospecting)": 20, "Employee Referral": 1, "EuroCV Agency Network": 40, "Northstar Staffing": 60,
}

STAGES = ["Application Review", "Phone Screen", "Interview", "Final Interview", "Offer", "Hired"]

REJECTION_REASONS = [  # (name, type)
    ("Lacking skill(s)/qualification(s)", "We rejected them"),
    ("Not enough relevant experience", "We rejected them"),
    ("Did not pass interview", "We rejected them"),
    ("Better-qualified candidate hired", "We rejected them"),
    ("Position filled", "We rejected them"),
    ("Location / work authorization", "We rejected them"),
    ("Accepted another offer", "They rejected us"),
    ("Compensation expectations", "They rejected us"),
    ("Not interested in the role", "They rejected us"),
    ("Withdrew - personal reasons", "They rejected us"),
    ("Unresponsive", "They rejected us"),
    ("Other", "None specified"),
]
REJECTION_TYPES = ["We rejected them", "They rejected us", "None specified"]

REFERRAL_RELATIONSHIPS = ["Former colleague", "Friend", "Classmate", "Met at an event", "Family member",
                          "Worked with them at a client"]
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
]
CONSENT_WORDING = {
    "tn-consent-v1": "Yes, Warmpool may email me about jobs and events that match my interests. "
                     "I can unsubscribe at any time.",
    "tn-consent-v2": "Yes, I would like to join the Warmpool talent network and receive emails about jobs, "
                     "events and news that match my interests. I can unsubscribe at any time with one click.",
}

# past campaigns whose provider events the sandbox seeds: (campaign id, sent at, families or None = any)
PAST_CAMPAIGNS = [
    ("cmp-2025-q1-eng-nurture", "2025-02-11T15:00:00Z", ["engineering"]),
    ("cmp-2025-q1-sales-invite", "2025-03-04T14:00:00Z", ["sales"]),
    ("cmp-2025-q2-data-nurture", "2025-05-13T15:00:00Z", ["data"]),
    ("cmp-2025-q2-newsletter", "2025-06-10T16:00:00Z", None),
    ("cmp-2025-q3-eng-nurture", "2025-08-19T15:00:00Z", ["engineering"]),
    ("cmp-2025-q3-design-invite", "2025-09-09T14:00:00Z", ["design", "product"]),
    ("cmp-2025-q4-gtm-nurture", "2025-11-04T15:00:00Z", ["sales", "marketing"]),
    ("cmp-2026-q1-eng-invite", "2026-02-10T15:00:00Z", ["engineering", "data"]),
    ("cmp-2026-q2-newsletter", "2026-05-12T16:00:00Z", None),
    ("cmp-2026-q3-ops-fin-nurture", "2026-08-18T15:00:00Z", ["operations", "finance"]),
]
