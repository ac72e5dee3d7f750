"""The second world's vocabulary: deliberately SMALL and SKEWED.

Every list is ordered by frequency and drawn with Zipf-like weights (``1 / rank ** s``), so a few
first names and surnames cover a large share of people and namesakes are common — the situation
where exact-name rules and name-only blocking break down. Written for this generator alone; it
shares nothing with the sandbox.
"""
from __future__ import annotations

# (name, sex) — sex only steers which partner/child names a household draws.
FIRST_NAMES_F = [
    "Maria", "Anna", "Sarah", "Emma", "Laura", "Julia", "Sofia", "Elizabeth", "Katherine", "Jennifer",
    "Priya", "Olivia", "Chloé", "Margaret", "Zoë", "Ana", "Fatima", "Hannah", "Małgorzata", "Lucía",
    "Emily", "Rebecca", "Ingrid", "Mei", "Aisha", "Renée", "Patricia", "Susan", "Nina", "Ewa",
    "Yuki", "Amélie", "Carmen", "Victoria", "Jessica", "Deborah", "Agnieszka", "Léa", "Sigrid", "Dolores",
]
FIRST_NAMES_M = [
    "James", "Michael", "David", "John", "Robert", "William", "Daniel", "Thomas", "Alexander", "José",
    "Mohammed", "Christopher", "Wei", "Luis", "Andrew", "Richard", "Joseph", "Matthew", "Raj", "Łukasz",
    "Stefan", "François", "Jürgen", "Søren", "Benjamin", "Anthony", "Nicholas", "Pedro", "Ahmed", "Björn",
    "Edward", "Samuel", "Kenji", "Piotr", "Jonathan", "Timothy", "Carlos", "Ivan", "Hiroshi", "Joaquín",
]
SURNAMES = [
    "Smith", "García", "Müller", "Nguyen", "Kim", "Johnson", "Patel", "Rodríguez", "Kowalski", "Martin",
    "Brown", "Williams", "Silva", "Schmidt", "Wang", "Jones", "Lee", "González", "Novak", "Dubois",
    "Miller", "Singh", "Fernández", "Nowak", "Chen", "Davis", "Wilson", "Fischer", "López", "Taylor",
    "Anderson", "Khan", "Moreau", "Johansson", "Pérez", "Weber", "Thomas", "Sato", "Rossi", "Jackson",
    "O'Brien", "Hernández", "Lefèvre", "Wiśniewski", "Andersen", "Ødegaard", "Meyer", "Suzuki", "Ali", "White",
    "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "Allen", "Sánchez", "Wright", "King",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins", "Edwards", "Stewart", "Flores", "Morris",
    "Šimić", "Jovanović", "Horvát", "Yılmaz", "Kaya", "Ivanova", "Petrov", "Haddad", "Mensah", "Okafor",
]
MIDDLE_NAMES = ["Marie", "Ann", "Lee", "James", "Elizabeth", "John", "Grace", "Paul", "Rose", "Michael",
                "Louise", "Alexander", "Jane", "Edward", "May"]

# Our own short nickname table (formal -> what people also go by). Not every variant is in any
# published nickname list — real exports are like that.
NICKNAMES = {
    "Elizabeth": ["Liz", "Beth", "Betty", "Eliza"], "Katherine": ["Kate", "Kathy", "Katie", "Kat"],
    "Jennifer": ["Jen", "Jenny"], "Margaret": ["Maggie", "Peggy", "Meg"], "Victoria": ["Vicky", "Tori"],
    "Jessica": ["Jess"], "Deborah": ["Debbie", "Deb"], "Patricia": ["Pat", "Trish", "Patty"],
    "Rebecca": ["Becky", "Becca"], "Susan": ["Sue", "Susie"], "Olivia": ["Liv"], "Dolores": ["Lola"],
    "Małgorzata": ["Gosia"], "Agnieszka": ["Aga"], "Sofia": ["Sophie"], "Julia": ["Jules"],
    "James": ["Jim", "Jimmy", "Jamie"], "Michael": ["Mike", "Mikey", "Mick"], "David": ["Dave", "Davey"],
    "John": ["Johnny", "Jack"], "Robert": ["Bob", "Rob", "Bobby", "Robbie"], "William": ["Bill", "Will", "Liam"],
    "Daniel": ["Dan", "Danny"], "Thomas": ["Tom", "Tommy"], "Alexander": ["Alex", "Sasha", "Xander"],
    "Christopher": ["Chris", "Kit"], "Andrew": ["Andy", "Drew"], "Richard": ["Rick", "Dick", "Rich"],
    "Joseph": ["Joe", "Joey"], "Matthew": ["Matt"], "Benjamin": ["Ben", "Benji"], "Anthony": ["Tony"],
    "Nicholas": ["Nick", "Nico"], "Edward": ["Ed", "Ted", "Eddie"], "Samuel": ["Sam"],
    "Jonathan": ["Jon"], "Timothy": ["Tim"], "José": ["Pepe"], "Mohammed": ["Mo"], "Łukasz": ["Luke"],
    "Piotr": ["Peter"], "Ivan": ["Vanya"], "Joaquín": ["Quino"], "Raj": ["Rajesh"],
}

# Cities: (city, region, country code, calling code, trunk prefix, mobile prefixes, subscriber
# digits, postcode pattern, other spellings). Ordered by frequency; a few places hold most people.
# Postcode pattern: "9" a digit, "A" a letter.
CITIES = [
    ("New York", "NY", "US", "1", "1", ["212", "646", "917", "347", "718"], 7, "10099", ["NYC", "New York City", "Brooklyn"]),
    ("London", "England", "GB", "44", "0", ["74", "75", "77", "78", "79"], 8, "A9 9AA", ["Greater London", "London, UK"]),
    ("Berlin", "Berlin", "DE", "49", "0", ["151", "152", "157", "176", "177"], 8, "10999", []),
    ("San Francisco", "CA", "US", "1", "1", ["415", "628"], 7, "94199", ["SF", "San Fransisco"]),
    ("Paris", "Île-de-France", "FR", "33", "0", ["6", "7"], 8, "75099", ["Paris 11e"]),
    ("Bengaluru", "Karnataka", "IN", "91", "0", ["98", "99", "97", "90"], 8, "560099", ["Bangalore"]),
    ("München", "Bayern", "DE", "49", "0", ["151", "152", "178", "179"], 8, "80999", ["Munich", "Muenchen"]),
    ("Toronto", "ON", "CA", "1", "1", ["416", "647", "437"], 7, "M9A 9A9", []),
    ("Chicago", "IL", "US", "1", "1", ["312", "773", "872"], 7, "60699", []),
    ("Madrid", "Madrid", "ES", "34", "", ["6"], 8, "28099", []),
    ("Warszawa", "Mazowieckie", "PL", "48", "", ["50", "51", "60", "66", "69", "72", "78", "79", "88"], 7, "00-999", ["Warsaw"]),
    ("Austin", "TX", "US", "1", "1", ["512", "737"], 7, "78799", []),
    ("São Paulo", "SP", "BR", "55", "0", ["119"], 8, "01999-999", ["Sao Paulo"]),
    ("Amsterdam", "Noord-Holland", "NL", "31", "0", ["6"], 8, "1099 AA", []),
    ("Manchester", "England", "GB", "44", "0", ["74", "77", "79"], 8, "M9 9AA", []),
    ("Köln", "Nordrhein-Westfalen", "DE", "49", "0", ["151", "176", "179"], 8, "50999", ["Cologne", "Koeln"]),
    ("Stockholm", "Stockholm", "SE", "46", "0", ["70", "72", "73", "76"], 7, "199 99", []),
    ("Seattle", "WA", "US", "1", "1", ["206", "425"], 7, "98199", []),
    ("Kraków", "Małopolskie", "PL", "48", "", ["50", "60", "69", "79"], 7, "30-999", ["Krakow", "Cracow"]),
    ("Lyon", "Auvergne-Rhône-Alpes", "FR", "33", "0", ["6", "7"], 8, "69099", []),
    ("Montréal", "QC", "CA", "1", "1", ["514", "438"], 7, "H9A 9A9", ["Montreal"]),
    ("Barcelona", "Catalunya", "ES", "34", "", ["6"], 8, "08099", []),
    ("Boston", "MA", "US", "1", "1", ["617", "857"], 7, "02199", []),
    ("Milano", "Lombardia", "IT", "39", "", ["33", "34", "32"], 8, "20199", ["Milan"]),
]
COUNTRY_NAMES = {"US": ["USA", "United States", "U.S."], "GB": ["UK", "United Kingdom"], "DE": ["Germany", "Deutschland"],
                 "FR": ["France"], "IN": ["India"], "CA": ["Canada"], "ES": ["Spain", "España"], "PL": ["Poland", "Polska"],
                 "BR": ["Brazil", "Brasil"], "NL": ["Netherlands", "Nederland"], "SE": ["Sweden"], "IT": ["Italy", "Italia"]}

STREETS = ["Main St", "High Street", "Hauptstraße", "Rue de la Paix", "Calle Mayor", "Oak Avenue", "Station Road",
           "ul. Długa", "Church Lane", "Maple Drive", "Lindenallee", "Park Road", "Rua Augusta", "Kerkstraat",
           "Via Roma", "Elm Street", "Bahnhofstraße", "Avenue Victor Hugo", "King Street", "Cedar Court"]
STREET_ABBREVIATIONS = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Lane": "Ln", "Drive": "Dr", "Court": "Ct",
                        "straße": "str.", "St": "Street"}

# Employers: (name, email domain, other spellings). A small set: many people share an employer.
EMPLOYERS = [
    ("Globex", "globex.com", ["Globex Corporation", "Globex Corp."]),
    ("Initech", "initech.com", ["Initech Inc.", "INITECH"]),
    ("Umbrella Health", "umbrellahealth.com", ["Umbrella Health Ltd"]),
    ("Northwind Traders", "northwind.com", ["Northwind", "Northwind Traders Inc"]),
    ("Contoso", "contoso.com", ["Contoso Ltd.", "Contoso Group"]),
    ("Hooli", "hooli.xyz", ["Hooli Inc"]),
    ("Vandelay Industries", "vandelay.com", ["Vandelay"]),
    ("Stark Analytics", "starkanalytics.io", ["Stark Analytics GmbH"]),
    ("Wayne Logistics", "waynelogistics.com", ["Wayne Logistics Co."]),
    ("Acme Retail", "acmeretail.com", ["ACME", "Acme Retail Group"]),
    ("Cyberdyne Systems", "cyberdyne.ai", ["Cyberdyne"]),
    ("Soylent Foods", "soylent.co", ["Soylent"]),
    ("Tyrell Robotics", "tyrell.tech", ["Tyrell"]),
    ("Oceanic Airlines", "oceanic-air.com", ["Oceanic"]),
    ("Massive Dynamic", "massivedynamic.com", ["Massive Dynamic LLC"]),
    ("Blue Sun Energy", "bluesun.energy", ["Blue Sun"]),
    ("Pied Piper", "piedpiper.com", ["PiedPiper"]),
    ("Gringotts Bank", "gringotts.bank", ["Gringotts"]),
    ("Aperture Labs", "aperture.science", ["Aperture Science"]),
    ("Monarch Consulting", "monarch-consulting.com", ["Monarch"]),
]
TITLES = [
    ("Software Engineer", ["Software Developer", "SWE", "Software Eng."]),
    ("Senior Software Engineer", ["Sr. Software Engineer", "Senior SWE"]),
    ("Data Analyst", ["Analyst, Data"]), ("Data Scientist", ["Sr Data Scientist"]),
    ("Product Manager", ["PM", "Product Owner"]), ("Registered Nurse", ["RN", "Staff Nurse"]),
    ("Sales Representative", ["Account Executive", "Sales Rep"]), ("Recruiter", ["Talent Acquisition Partner"]),
    ("Accountant", ["Staff Accountant"]), ("Warehouse Associate", ["Warehouse Operative"]),
    ("Project Manager", ["Project Lead"]), ("UX Designer", ["Product Designer"]),
    ("Customer Support Specialist", ["Support Agent"]), ("DevOps Engineer", ["Site Reliability Engineer"]),
    ("Marketing Manager", ["Marketing Lead"]), ("Mechanical Engineer", ["Design Engineer"]),
]
SKILLS = ["python", "sql", "excel", "java", "sales", "negotiation", "kubernetes", "react", "nursing", "forklift",
          "accounting", "figma", "customer service", "aws", "machine learning", "project management", "german",
          "spanish", "logistics", "recruiting", "seo", "c++", "tableau", "scrum"]

# Personal mail providers, most common first; "gmail" ignores dots and honours plus tags.
FREEMAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "gmx.de", "web.de", "proton.me",
            "orange.fr", "wp.pl", "libero.it", "yahoo.co.uk"]
