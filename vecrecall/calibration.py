"""Calibration texts for static int8 quantisation (OpenVINO): general English of mixed length, written for vecrecall.

Static quantisation measures activation ranges on sample inputs. Shipping a fixed set keeps the exported model a
function of the model alone (not of whichever corpus was encoded first), so documents and queries, and shards
encoded on different machines, get the same int8 model. None of it comes from an evaluation collection.
"""

from __future__ import annotations

import hashlib

_SENTENCES = """\
The committee met on Tuesday to review the budget for the coming year.
How do I reset my password if I no longer have access to my email account?
Rain is expected across the northern region tonight, with clearer skies by the afternoon.
A simple recipe for bread needs only flour, water, salt and yeast.
The library extended its opening hours during the examination period.
What is the difference between a virus and a bacterium?
Engineers inspected the bridge after the storm and found minor damage to the railings.
She learned to play the violin at the age of seven and joined an orchestra at fifteen.
Solar panels convert sunlight directly into electricity using semiconductor cells.
The museum's new exhibition covers two thousand years of maritime trade.
cheap flights to lisbon in march
Why does ice float on water?
The patient was advised to rest, drink plenty of fluids and return if the fever persisted.
Our quarterly report shows steady growth in subscriptions and a fall in support requests.
A binary search tree keeps its keys in sorted order, so lookups take logarithmic time on average.
The city council approved a plan to plant ten thousand trees along its main roads.
best hiking boots for wet weather
The train to the coast was delayed by forty minutes because of a signal failure.
Photosynthesis takes place in the chloroplasts of plant cells.
He wrote three novels before turning to journalism in his forties.
Measurements of the magnetic field were repeated at several temperatures to check for drift.
The contract may be terminated by either party with thirty days' written notice.
How many hours of sleep do teenagers need?
The company recalled a batch of kettles after reports that the handles could overheat.
Children learn languages faster when they hear them spoken at home.
A gentle slope leads down to a small beach sheltered from the wind.
The algorithm sorts the input, removes duplicates and returns the ten most frequent items.
The orchestra performed works by composers from four different centuries.
symptoms of vitamin d deficiency
Volunteers collected more than two tonnes of litter from the riverbanks over the weekend.
The theory predicts that the signal should weaken with the square of the distance.
Please bring a photo identity document and proof of address to your appointment.
The old mill was converted into apartments, keeping its brick walls and wooden beams.
Which programming language is best for data analysis?
The results suggest that the treatment is effective only when started early.
Farmers in the valley grow apples, pears and plums on terraced slopes.
A sudden drop in pressure often signals the approach of a storm.
The film follows a family that moves from the countryside to a crowded city.
Customers can return unused items within fourteen days for a full refund.
Transistors act as switches or amplifiers in electronic circuits.
The ancient road linked the port with the mountain towns for more than a thousand years.
how to remove red wine stains from a carpet
The report recommends more frequent maintenance of the cooling pumps.
He apologised for the misunderstanding and offered to arrange a new meeting.
Satellites in low orbit circle the Earth roughly every ninety minutes.
The school introduced a programme of outdoor lessons for younger pupils.
Heavy snow closed the pass, and drivers were told to use the southern route.
An index speeds up queries but makes inserts and updates slightly slower.
The painting was restored after decades in a damp storeroom.
What causes the seasons on Earth?
Prices of fresh vegetables rose sharply after the dry summer.
The software update fixes a bug that caused the application to crash on start-up.
Migrating birds use the position of the sun and the stars to find their way.
The new law requires landlords to carry out safety checks every year.
A good night's sleep improves memory, mood and concentration.
The experiment was repeated with a larger sample, and the effect remained significant.
opening times of the national gallery on sundays
The wind turbine produces enough electricity for about two thousand homes.
They walked along the canal until the path turned towards the village.
The network uses error-correcting codes so that corrupted packets can be repaired.
Many species of frog are threatened by the loss of wetland habitats.
The conference brought together researchers in medicine, statistics and computing.
Is it safe to swim in the sea after heavy rain?
Copper is an excellent conductor of both heat and electricity.
The author describes her childhood in a fishing village in vivid detail.
Sales staff are trained to explain the warranty terms before each purchase.
The valley flooded twice in ten years, so the town built a new embankment.
The microscope revealed fine cracks in the surface of the alloy.
how long should you boil an egg
An orchestra usually tunes to the note A played by the oboe.
The survey asked residents how often they use public transport.
The glacier has retreated nearly a kilometre since the first measurements were made.
Vaccines train the immune system to recognise a pathogen without causing the disease.
The bakery opens at six and usually sells out of croissants by nine.
A compiler translates source code into machine instructions that a processor can execute.
The festival celebrates the harvest with music, dancing and local food.
What are the rules for carrying liquids in hand luggage?
The bridge was designed to flex slightly in strong winds.
The team analysed ten years of hospital records to identify risk factors.
Lightning heats the surrounding air so quickly that it expands with a loud crack.
The shop offers free delivery on orders over fifty euros.
The ship's cargo included spices, silk and porcelain from distant ports.
Regular exercise lowers blood pressure and reduces the risk of heart disease.
used electric cars with long battery range
The students built a small weather station and recorded data for a whole year.
The museum closed for renovation and will reopen in the spring.
Radio waves, visible light and X-rays are all forms of electromagnetic radiation.
The negotiations ended without agreement, and both sides promised to meet again next month.
The garden is at its best in early summer, when the roses are in bloom.
How do noise-cancelling headphones work?
The inspector found that the fire exits were blocked by stored furniture.
A thin layer of oxide protects aluminium from further corrosion.
The novel is set in a small town during a long and unusually hot summer.
The bank will never ask you to confirm your password by telephone.
Researchers measured the speed of sound in the gas at different pressures and compared it with the theory.
The ferry crossing takes about two hours in calm weather and longer when the sea is rough.
Our new policy allows employees to work from home two days a week.
Why do cats purr?
The power cut lasted three hours and affected about twelve thousand households.
Each chapter ends with exercises that help readers check their understanding.
The telescope recorded faint light from galaxies billions of light years away.
The orchard was planted by the farmer's grandfather more than sixty years ago.
Batteries lose capacity faster when they are stored fully charged in a warm place.
The conference paper describes a faster method for solving large systems of linear equations, compares it with \
two established methods on several test problems, and discusses when each method should be preferred in practice.
In the late afternoon the market square fills with stalls selling fruit, cheese and bread, and musicians play \
near the fountain while children chase pigeons between the tables of the cafes.
The study followed two thousand adults for fifteen years and found that those who walked for at least thirty \
minutes a day had fewer heart problems, even after accounting for age, diet and smoking.
To install the printer, connect it to the power supply, switch it on, wait until the light stops flashing and \
then follow the instructions on the computer screen to add it to the network.
The measurements show that the resistance of the film falls steeply as the temperature rises, which suggests \
that conduction is dominated by carriers excited across a small energy gap.
After the flood the volunteers cleaned the school, repaired the damaged furniture, repainted the classrooms and \
organised a book collection so that the children could return to lessons within a month.
The design uses a feedback loop to keep the output voltage steady when the load changes, and a second circuit \
shuts the supply down if the current exceeds a safe limit for more than a few milliseconds.
Historians disagree about the causes of the decline of the old trading cities: some stress changes in trade \
routes, others the spread of disease, and others the cost of long wars.
"""

TEXTS: tuple[str, ...] = tuple(line.strip() for line in _SENTENCES.splitlines() if line.strip())
DIGEST: str = hashlib.sha256("\n".join(TEXTS).encode()).hexdigest()[:16]
